"""Worker processes that never outlive the process that started them.

A `spawn` worker blocks reading its task queue; if its parent is killed with SIGKILL (an
out-of-memory kill, `kill -9`, a lost Slurm allocation) nothing closes that queue, and the
workers of an NB101 ingest stayed alive for minutes holding ~170 MB each. Every pool wsdb
starts therefore runs `die_with_parent` in each worker: a watchdog thread that ends the
worker within WATCHDOG_SECONDS of its parent's death (the worker is then re-parented).
Linux's PR_SET_PDEATHSIG would be immediate, but it fires when the *thread* that started
the worker ends, and pools may start workers from helper threads.

The watchdog must start before the worker spends seconds importing: a spawned worker first
re-imports its parent's main module (the `wsdb` command: typer, SQLAlchemy, ...) and then
unpickles its initializer's arguments (the task module, numpy and Arrow buffers). Under load
that took 5-10 s, during which a killed parent's workers lived on. So workers are spawned with
this light module standing in for the parent's main module, and the initializer receives the
setup function by name and its arguments as bytes: the watchdog runs first, then the imports.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import sys
import threading
import time
import types
from concurrent.futures import ProcessPoolExecutor
from importlib.machinery import ModuleSpec
from multiprocessing import get_context

WATCHDOG_SECONDS = 0.25


def die_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this worker when the process `parent_pid` is gone."""
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCHDOG_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="wsdb-parent-watchdog", daemon=True).start()


def _start_worker(parent_pid: int, setup: str | None, setup_payload: bytes) -> None:
    die_with_parent(parent_pid)
    if setup is not None:
        module, _, name = setup.partition(":")
        getattr(importlib.import_module(module), name)(*pickle.loads(setup_payload))


@contextlib.contextmanager
def _light_main():
    """While workers are spawned, `__main__` is a stand-in whose spec names this module: a
    spawned worker imports it (milliseconds) instead of re-running the parent's main module."""
    main = sys.modules["__main__"]
    stand_in = types.ModuleType("__main__")
    stand_in.__spec__ = ModuleSpec(__name__, None)
    sys.modules["__main__"] = stand_in
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class _Pool(ProcessPoolExecutor):
    def _adjust_process_count(self) -> None:  # where ProcessPoolExecutor spawns its workers
        with _light_main():
            super()._adjust_process_count()


def process_pool(workers: int, setup=None, setup_args: tuple = ()) -> ProcessPoolExecutor:
    """A `spawn` process pool whose workers die with this process; each worker runs
    `setup(*setup_args)` once when it starts (state every task shares, sent once)."""
    name = None if setup is None else f"{setup.__module__}:{setup.__qualname__}"
    return _Pool(workers, mp_context=get_context("spawn"), initializer=_start_worker,
                 initargs=(os.getpid(), name, pickle.dumps(setup_args, protocol=pickle.HIGHEST_PROTOCOL)))


def multiprocessing_pool(workers: int):
    """The same for a multiprocessing.Pool (imap over a large iterable)."""
    with _light_main():
        return get_context("spawn").Pool(workers, initializer=die_with_parent, initargs=(os.getpid(),))
