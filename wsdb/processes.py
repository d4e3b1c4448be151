"""Worker processes that never outlive the process that started them.

A `spawn` worker blocks reading its task queue; if its parent is killed with SIGKILL (an
out-of-memory kill, `kill -9`, a lost Slurm allocation) nothing closes that queue, and the
workers of an NB101 ingest stayed alive for minutes holding ~170 MB each. Every pool wsdb
starts therefore runs `die_with_parent` in each worker: a watchdog thread that ends the
worker within WATCHDOG_SECONDS of its parent's death (the worker is then re-parented).
Linux's PR_SET_PDEATHSIG would be immediate, but it fires when the *thread* that started
the worker ends, and pools may start workers from helper threads.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

WATCHDOG_SECONDS = 0.25


def die_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this worker when the process `parent_pid` is gone."""
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCHDOG_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="wsdb-parent-watchdog", daemon=True).start()


def _start_worker(parent_pid: int, setup, setup_args: tuple) -> None:
    die_with_parent(parent_pid)
    if setup is not None:
        setup(*setup_args)


def process_pool(workers: int, setup=None, setup_args: tuple = ()) -> ProcessPoolExecutor:
    """A `spawn` process pool whose workers die with this process; each worker runs
    `setup(*setup_args)` once when it starts (state every task shares, sent once)."""
    return ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_start_worker,
                               initargs=(os.getpid(), setup, setup_args))


def multiprocessing_pool(workers: int):
    """The same for a multiprocessing.Pool (imap over a large iterable)."""
    return get_context("spawn").Pool(workers, initializer=die_with_parent, initargs=(os.getpid(),))
