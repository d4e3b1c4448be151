"""Super-net checkpoint files, stored as artifacts (wsdb.warehouse.artifacts: URI + sha256 + size).

Checkpoints are read back only if their sha256 matches the database row, and through
torch's `weights_only` unpickler, an allow-list of tensors and plain containers: a
checkpoint file can never run code while loading.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import torch

from wsdb.warehouse.artifacts import location_uri, read_verified, write_bytes
from wsdb.base.errors import WsdbError

__all__ = ["FORMAT", "check_location", "fitting", "load_checkpoint", "location_uri", "save_checkpoint", "write_bytes"]

FORMAT = "wsdb-supernet-checkpoint/1"


def check_location(location: str) -> None:
    """A local checkpoint folder exists (made here) and is writable, before a run is registered;
    remote URIs (s3://, ...) are checked by their first write."""
    if "://" in location and not location.startswith("file://"):
        return
    folder = Path(location.removeprefix("file://"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WsdbError(f"--checkpoint-dir {location}: cannot make the folder ({error.strerror or error})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WsdbError(f"--checkpoint-dir {location}: the folder is not writable")


def save_checkpoint(uri: str, state: dict) -> tuple[str, int]:
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    return write_bytes(uri, buffer.getvalue())


def load_checkpoint(uri: str, sha256: str | None, what: str) -> dict:
    payload = read_verified(uri, sha256, what)
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, ... for foreign files
        raise WsdbError(f"{what}: {uri} is not a loadable wsdb checkpoint ({type(error).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise WsdbError(f"{what}: {uri} is not a wsdb super-net checkpoint")
    return state


@contextlib.contextmanager
def fitting(what: str, target: str = "super-net"):
    """Turn a checkpoint that does not fit the network it is loaded into (tensors of other
    shapes, missing keys, generator states of another kind: tampered or foreign) into one
    line naming it."""
    try:
        yield
    except (KeyError, RuntimeError, TypeError, ValueError) as error:
        detail = " ".join(str(error).split())[:200]
        raise WsdbError(f"{what} does not fit this {target} ({type(error).__name__}: {detail})") from None
