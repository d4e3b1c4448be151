"""Ctrl-C at safe points.

Python raises KeyboardInterrupt wherever the main thread happens to be. Inside a DuckDB
statement that is harmful: DuckDB turns it into an interrupted query, the transaction is left
aborted, and what reaches the user is a database error ("Current transaction is aborted")
instead of the line saying what was kept; a signal DuckDB consumes may even be lost, and the
command runs on to the end. `safe_points()` replaces the handler for its duration: SIGINT
only sets a flag, which `check()` turns into KeyboardInterrupt between two units of work (a
committed batch). A second Ctrl-C before the next safe point interrupts at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading


class SafePoints:
    def __init__(self) -> None:
        self.requested = False

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt


@contextlib.contextmanager
def safe_points():
    points = SafePoints()
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield points
        return

    def handler(signum, frame) -> None:
        if points.requested:
            raise KeyboardInterrupt
        points.requested = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield points
    finally:
        signal.signal(signal.SIGINT, previous)
