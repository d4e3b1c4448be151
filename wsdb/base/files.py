"""The one rule for files a command writes or reads by path on the local disk.

An output (`--csv FILE`, `--parquet FILE`, `--out FILE`, a bundle, a report, a plot) is
written to a temporary name in its folder and renamed over the target only when complete, so
an interrupted or failed write leaves what was there. Before anything is computed, a target is
refused with one line when it is a folder, not a regular file (a FIFO, a device), in a folder
that does not exist or cannot be written, a database (a DuckDB or SQLite file, or a DuckDB
write-ahead log: the warehouse is one of them), or a file the same command reads (`protect`).
An input is read only when it is a regular file: a FIFO would block the command forever.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from wsdb.base.errors import WsdbError

_PROTECTED: set[Path] = set()  # inputs of the running command


def protect(path: str | os.PathLike) -> None:
    """Mark a file the running command reads: no output of it may overwrite the file."""
    _PROTECTED.add(Path(path).resolve())


def is_database(path: Path) -> bool:
    """A DuckDB file (magic "DUCK" at byte 8), its write-ahead log, or an SQLite file."""
    if path.name.endswith(".wal") and is_database(path.with_name(path.name[:-4])):
        return True
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return False
    return head[8:12] == b"DUCK" or head.startswith(b"SQLite format 3\x00")


def check_output(target: str | os.PathLike, what: str = "output") -> Path:
    """The target as a Path, or a WsdbError saying why it must not be written."""
    path = Path(target)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise WsdbError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WsdbError(f"cannot write {path}: folder {folder} is not writable")
    if path.is_dir():
        raise WsdbError(f"cannot write {what} {path}: it is a folder; name a file")
    if path.exists() or path.is_symlink():
        mode = os.stat(path).st_mode if path.exists() else 0
        if path.exists() and not stat.S_ISREG(mode):
            raise WsdbError(f"cannot write {what} {path}: not a regular file")
        if path.resolve() in _PROTECTED:
            raise WsdbError(f"refusing to write {what} over {path}: this command reads it")
        if is_database(path.resolve()):
            raise WsdbError(f"refusing to write {what} over {path}: it is a database file (the warehouse or "
                            "another); name a new file")
    return path


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike, what: str = "output"):
    """Yield a temporary path beside the checked target; rename it over the target when the
    block ends normally, remove it otherwise."""
    path = check_output(target, what)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield partial
        os.replace(partial, path)
    except OSError as error:
        raise WsdbError(f"cannot write {what} {path}: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def regular_input(path: str | os.PathLike, what: str = "") -> Path:
    """An input file that exists and is a regular file (not a folder, FIFO or device);
    `what` names the kind of file in the messages ("bundle", "SQL", ...)."""
    path = Path(path)
    kind = f"{what} file" if what else "file"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise WsdbError(f"{path}: no such file") from None
    except OSError as error:
        raise WsdbError(f"{path}: cannot read ({error.strerror or error})") from None
    if stat.S_ISDIR(mode):
        raise WsdbError(f"{path}: is a directory, expected a {kind}")
    if not stat.S_ISREG(mode):
        raise WsdbError(f"{path}: not a regular file (a FIFO or device would never end); give the {kind} itself")
    return path
