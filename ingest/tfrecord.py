"""Reading TFRecord files without TensorFlow.

Each record is framed as: uint64 length | uint32 masked crc32c(length) | payload |
uint32 masked crc32c(payload), little-endian. Both checksums are verified; any damage is a
clear error naming the file, the record index and its byte offset.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import google_crc32c
import numpy as np

from wsdb.base.errors import WsdbError

_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")
# A record larger than this is taken as a sign of a file that is not a TFRecord stream.
MAX_RECORD_BYTES = 64 << 20


class TFRecordError(WsdbError):
    pass


def masked_crc32c(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame_record(payload: bytes) -> bytes:
    """One framed record (the inverse of `unframe`): for the tests and benchmarks that write files."""
    length = len(payload).to_bytes(8, "little")
    return length + masked_crc32c(length).to_bytes(4, "little") + payload + masked_crc32c(payload).to_bytes(4, "little")


def _record_length(path: Path, header: bytes, index: int, offset: int, size: int) -> int:
    """Check one record header; returns the payload length."""
    if len(header) < 12:
        raise TFRecordError(f"{path}: truncated record header at record {index} (byte offset {offset})")
    length, length_crc = _HEADER.unpack(header)
    if masked_crc32c(header[:8]) != length_crc:
        what = "not a TFRecord file (bad length checksum at the start)" if index == 0 else (
            f"corrupt length checksum at record {index} (byte offset {offset})"
        )
        raise TFRecordError(f"{path}: {what}")
    if length > MAX_RECORD_BYTES or offset + 16 + length > size:
        raise TFRecordError(f"{path}: truncated file: record {index} (byte offset {offset}) needs {length} bytes")
    return length


# Headers are walked in chunks of the file held in memory: a seek and a 12-byte read per
# record cost ~3.7 us each, and the walk runs in the main process while workers decode.
_CHUNK_BYTES = 8 << 20


def _headers(path: Path) -> Iterator[tuple[int, int, int]]:
    """(index, byte offset, payload length) of every record, each header checked."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        buffer, start = b"", 0  # buffer: the file's bytes from offset `start`
        index, offset = 0, 0
        while offset < size:
            if offset + 12 > start + len(buffer):
                f.seek(offset)
                buffer, start = f.read(_CHUNK_BYTES), offset
            at = offset - start
            length = _record_length(path, buffer[at:at + 12], index, offset, size)
            yield index, offset, length
            offset += 16 + length
            index += 1


def record_lengths(path: Path) -> np.ndarray:
    """Every record's payload length, each header checked: a truncated or foreign file is
    refused here, before an ingester writes anything (8 bytes a record)."""
    return np.fromiter((length for _, _, length in _headers(Path(path))), dtype=np.int64)


def read_blocks(path: Path, block_records: int = 20_000,
                lengths: np.ndarray | None = None) -> Iterator[tuple[int, int, bytes, list[int]]]:
    """Yield (index and byte offset of the first record, the block's framed bytes, payload
    lengths) for blocks of `block_records` records, the headers checked by `record_lengths`
    (pass its result if you have it); `unframe` checks the payloads (in a worker process,
    where the ingest decodes). Memory: one block."""
    path = Path(path)
    lengths = record_lengths(path) if lengths is None else lengths
    with open(path, "rb") as f:
        offset = 0
        for first in range(0, len(lengths), block_records):
            block = lengths[first:first + block_records]
            size = int(block.sum()) + 16 * len(block)
            yield first, offset, f.read(size), block.tolist()
            offset += size


def unframe(path: Path, first: int, first_offset: int, data: bytes, lengths: list[int]) -> list[bytes]:
    """The payloads of a block from `read_blocks`, each checksum verified."""
    payloads, at = [], 0
    for k, length in enumerate(lengths):
        payload = data[at + 12:at + 12 + length]
        (payload_crc,) = _FOOTER.unpack_from(data, at + 12 + length)
        if masked_crc32c(payload) != payload_crc:
            raise TFRecordError(f"{path}: corrupt record {first + k} (byte offset {first_offset + at}): "
                                "payload checksum mismatch")
        payloads.append(payload)
        at += 16 + length
    return payloads


def read_records(path: Path, block_records: int = 20_000) -> Iterator[tuple[int, int, list[bytes]]]:
    """Yield (index and byte offset of the first record, payloads) in blocks, checking every
    checksum. Memory is bounded by one block, whatever the file size."""
    for first, first_offset, data, lengths in read_blocks(path, block_records):
        yield first, first_offset, unframe(path, first, first_offset, data, lengths)
