"""Progress bars for long work (ingest, training): on a terminal only."""

from __future__ import annotations

import sys
from contextlib import contextmanager


@contextmanager
def progress_bar(total: int | None, unit: str, description: str, enabled: bool = True):
    """A tqdm bar on a terminal; nothing when stderr is not a TTY (logs, CI, pipes)."""
    if not (enabled and sys.stderr.isatty()):
        class _Quiet:
            def update(self, n=1):
                pass

        yield _Quiet()
        return
    from tqdm import tqdm

    with tqdm(total=total, unit=unit, unit_scale=True, desc=description, leave=False) as bar:
        yield bar
