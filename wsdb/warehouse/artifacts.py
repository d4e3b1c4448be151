"""Files outside the database (checkpoints, predictions, bundled copies), referenced by URI +
sha256 + size.

A location is a local directory or any fsspec URI (`s3://bucket/run`, `gs://...`,
`memory://` in tests); files are written whole (local: to a temporary name, then renamed),
so a crash never leaves a half-written file under the final name, and read back only when
their sha256 matches the one recorded.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from wsdb.base.errors import WsdbError


def location_uri(location: str | os.PathLike) -> str:
    """A directory or URI as stored: local paths become absolute file:// URIs."""
    text = str(location)
    if "://" in text:
        return text.rstrip("/")
    return Path(text).resolve().as_uri()


def write_bytes(uri: str, payload: bytes) -> tuple[str, int]:
    """Write a file whole; returns (sha256, size)."""
    fs, path = fsspec.core.url_to_fs(uri)
    parent = path.rsplit("/", 1)[0]
    fs.makedirs(parent, exist_ok=True)
    if isinstance(fs, LocalFileSystem):
        temporary = f"{path}.partial"
        with open(temporary, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    else:
        with fs.open(path, "wb") as f:
            f.write(payload)
    return hashlib.sha256(payload).hexdigest(), len(payload)


def read_verified(uri: str, sha256: str | None, what: str) -> bytes:
    try:
        with fsspec.open(uri, "rb") as f:
            payload = f.read()
    except (OSError, ValueError) as error:
        raise WsdbError(f"{what}: cannot read {uri} ({error})") from None
    if sha256 is not None and hashlib.sha256(payload).hexdigest() != sha256:
        raise WsdbError(f"{what}: {uri} does not match its recorded sha256 {sha256[:12]}...; refusing to use it")
    return payload


def remove(uri: str) -> None:
    """Delete a file that is no longer referenced (gone already: nothing to do)."""
    fs, path = fsspec.core.url_to_fs(uri)
    try:
        fs.rm(path)
    except FileNotFoundError:
        pass
