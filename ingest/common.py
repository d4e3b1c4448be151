"""What every ingester shares: its error type, its summary line, and its progress bar."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from wsdb.errors import WsdbError


class IngestError(WsdbError):
    """Bad input: names the file and the record; nothing of the bad batch was written."""


@dataclass
class IngestSummary:
    source: str
    records_read: int = 0
    new_architectures: int = 0
    new_results: int = 0
    duplicates_skipped: int = 0
    started: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0

    def finish(self) -> "IngestSummary":
        self.seconds = time.perf_counter() - self.started
        return self

    def line(self) -> str:
        return (
            f"{self.source}: {self.records_read:,} records read, {self.new_architectures:,} new architectures, "
            f"{self.new_results:,} new results, {self.duplicates_skipped:,} duplicates skipped, "
            f"{self.seconds:.1f} s"
        )

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "records_read": self.records_read,
            "new_architectures": self.new_architectures,
            "new_results": self.new_results,
            "duplicates_skipped": self.duplicates_skipped,
            "seconds": round(self.seconds, 3),
        }


def require_file(path: Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if path.is_dir():
        raise IngestError(f"{path}: is a directory, expected a file")
    return path


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
