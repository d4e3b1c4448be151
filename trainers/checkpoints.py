"""Super-net checkpoint files, stored as artifacts (wsdb.artifacts: URI + sha256 + size).

Checkpoints are read back only if their sha256 matches the database row, and through
torch's `weights_only` unpickler, an allow-list of tensors and plain containers: a
checkpoint file can never run code while loading.
"""

from __future__ import annotations

import io

import torch

from wsdb.artifacts import location_uri, read_verified, write_bytes
from wsdb.errors import WsdbError

__all__ = ["FORMAT", "load_checkpoint", "location_uri", "save_checkpoint", "write_bytes"]

FORMAT = "wsdb-supernet-checkpoint/1"


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
