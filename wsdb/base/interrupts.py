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

from wsdb.base.errors import Interrupted


class SafePoints:
    def __init__(self) -> None:
        self.requested = False

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def keep_going(self) -> bool:
        """For loops that ask before every step whether to go on (training, evaluation): True,
        or KeyboardInterrupt once Ctrl-C was pressed."""
        self.check()
        return True


@contextlib.contextmanager
def safe_points(kept: str | None = None):
    """Ctrl-C as a flag for the duration; with `kept` (what an interrupted command keeps, said to
    the user), the KeyboardInterrupt that ends the block becomes `Interrupted(kept)`: the command
    line's one line and exit 130, where typer would exit 130 in silence."""
    points = SafePoints()

    def handler(signum, frame) -> None:
        if points.requested:
            raise KeyboardInterrupt
        points.requested = True

    # only the main thread gets signals
    previous = signal.signal(signal.SIGINT, handler) if threading.current_thread() is threading.main_thread() else None
    try:
        yield points
    except KeyboardInterrupt:
        if kept is None:
            raise
        raise Interrupted(kept) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
