"""What a bundle may hold: a bundle from another lab is untrusted input, read through these
rules before any row or file of it is written.

- The archive: a regular file; each member's size is bounded by what the manifest declares and
  by a decompression ratio, checked from the zip directory before any member is read, and read
  with that bound, so a small file cannot expand into gigabytes.
- The manifest: its types (format, a whole version >= 1, the schema revision, per file a
  sha256, a byte count and for tables a row count) and names (tables wsdb knows, checkpoint
  files named `checkpoints/<super-net id>/<label>.pt`); the bytes and rows it declares must be
  what the files hold.
- The rows: every number by the value rules of ingested data (wsdb/base/values.py), proxy scores by
  their metric, architecture references in range, configurations JSON objects, ids and
  checkpoint labels of a shape that makes a safe file name.
"""

from __future__ import annotations

import json
import re
import zipfile

import pyarrow as pa

from wsdb.base import values
from wsdb.base.errors import WsdbError

MANIFEST_LIMIT = 16 << 20  # bytes of manifest.json
# Members are stored, not deflated (Parquet is compressed already): a member that expands more
# than this from its compressed size is a decompression bomb, whatever the manifest says.
EXPANSION_LIMIT = 64
ID = re.compile(r"[0-9a-f]{32}")
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
REVISION = re.compile(r"\d{4}")
SHA256 = re.compile(r"[0-9a-f]{64}")
CHECKPOINT_FILE = re.compile(r"checkpoints/([0-9a-f]{32})/([A-Za-z0-9][A-Za-z0-9._-]{0,127})\.pt")
# The quantity a proxy score of each metric is (other metrics: any number but NaN)
METRIC_KINDS = {"validation_accuracy": "accuracy", "validation_loss": "loss", "architecture_log_likelihood": "score"}
WEIGHTS = {"architecture_weights": "weight", "edge_weights": "weight"}  # fractions in [0, 1]


def _whole(value, least: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def manifest_problem(manifest, tables: tuple[str, ...], format_name: str, newest_version: int) -> str | None:
    """Why a manifest is not one wsdb reads, or None."""
    if not isinstance(manifest, dict) or manifest.get("format") != format_name:
        return f"manifest.json is not a {format_name} manifest"
    version = manifest.get("format_version")
    if not _whole(version, 1):
        return f"manifest.json: format_version {version!r} is not a whole number >= 1"
    if version > newest_version:
        return f"bundle format version {version} is newer than this wsdb reads ({newest_version}): upgrade wsdb"
    revision = manifest.get("schema_revision")
    if not isinstance(revision, str) or not REVISION.fullmatch(revision):
        return f"manifest.json: schema_revision {revision!r} is not a revision like '0008'"
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return "manifest.json: files is not a mapping of the bundle's files"
    known = {f"tables/{name}.parquet" for name in ("architectures", *tables)}
    for name, facts in files.items():
        if name not in known and not CHECKPOINT_FILE.fullmatch(str(name)):
            return f"manifest.json: {name!r} is not a file a bundle holds"
        if not isinstance(facts, dict) or not isinstance(facts.get("sha256"), str) \
                or not SHA256.fullmatch(facts["sha256"]) or not _whole(facts.get("bytes")):
            return f"manifest.json: {name} needs a sha256 and a byte count"
        if name in known and not _whole(facts.get("rows")):
            return f"manifest.json: {name} needs a row count"
    if not isinstance(manifest.get("supernets", []), list):
        return "manifest.json: supernets is not a list"
    return None


def read_members(archive: zipfile.ZipFile, manifest: dict, archive_bytes: int) -> dict[str, bytes]:
    """Every listed member, each within its declared size, after checking the bounds on the zip
    directory: nothing beyond them is read into memory."""
    infos = {info.filename: info for info in archive.infolist()}
    extra = sorted(set(infos) - set(manifest["files"]) - {"manifest.json"})
    if extra:
        raise WsdbError(f"{extra[0]} is in the archive but not in the manifest")
    declared_total = 0
    for name, facts in manifest["files"].items():
        info = infos.get(name)
        if info is None:
            raise WsdbError(f"{name} is listed in the manifest but missing")
        if info.file_size != facts["bytes"]:
            raise WsdbError(f"{name}: the archive says {info.file_size:,} bytes, the manifest {facts['bytes']:,}")
        if info.file_size > max(EXPANSION_LIMIT * info.compress_size, 1 << 20):
            raise WsdbError(f"{name} expands {info.file_size:,} bytes from {info.compress_size:,}: refused "
                            "(a decompression bomb?)")
        declared_total += info.file_size
    if declared_total > EXPANSION_LIMIT * max(archive_bytes, 1 << 20):
        raise WsdbError(f"the files expand to {declared_total:,} bytes from a {archive_bytes:,}-byte archive: refused")
    members = {}
    for name, facts in sorted(manifest["files"].items()):
        with archive.open(name) as member:
            data = member.read(facts["bytes"] + 1)
        if len(data) != facts["bytes"]:
            raise WsdbError(f"{name} holds {len(data):,} bytes, the manifest says {facts['bytes']:,}")
        members[name] = data
    return members


def _bad(table: str, row: int, column: str, value, wanted: str) -> WsdbError:
    return WsdbError(f"tables/{table}.parquet row {row}: {column} = {value!r} is not {wanted}")


def check_rows(name: str, table: pa.Table, architectures: int) -> None:
    """Every row of a bundled table by the rules its values obey (the first bad one is the error)."""
    columns = table.column_names
    for column in columns:
        kind = values.kind_of(column)
        if kind is not None:
            values.check_column(table.column(column).to_pylist(), kind, column,
                                lambda row, c=column: f"tables/{name}.parquet row {row}")
    if name in WEIGHTS:
        values.check_column(table.column("weight").to_pylist(), "accuracy", "weight",
                            lambda row: f"tables/{name}.parquet row {row}")
    if "architecture_ref" in columns:
        for row, ref in enumerate(table.column("architecture_ref").to_pylist()):
            if not _whole(ref) or ref >= architectures:
                raise _bad(name, row, "architecture_ref", ref, f"one of the bundle's {architectures} architectures")
    if name == "proxy_scores":
        for row, (metric, value) in enumerate(zip(table.column("metric").to_pylist(), table.column("value").to_pylist())):
            values.check(value, METRIC_KINDS.get(metric, "score"), f"tables/{name}.parquet row {row}", f"{metric} value")
    if name == "supernets":
        for row, (identity, config) in enumerate(zip(table.column("id").to_pylist(),
                                                     table.column("config_json").to_pylist())):
            if not isinstance(identity, str) or not ID.fullmatch(identity):
                raise _bad(name, row, "id", identity, "a 32-character hex id")
            try:
                parsed = json.loads(config)
            except (TypeError, json.JSONDecodeError):
                parsed = None
            if not isinstance(parsed, dict):
                raise _bad(name, row, "config_json", str(config)[:60], "a JSON object")
    if name == "checkpoints":
        for row, (owner, label) in enumerate(zip(table.column("supernet_id").to_pylist(),
                                                 table.column("label").to_pylist())):
            if not isinstance(owner, str) or not ID.fullmatch(owner):
                raise _bad(name, row, "supernet_id", owner, "a 32-character hex id")
            if not isinstance(label, str) or not LABEL.fullmatch(label):
                raise _bad(name, row, "label", label, "a label of letters, digits, '.', '_' and '-'")
    for column in ("epoch", "step", "evaluation_repeat", "position", "seed"):
        if column in columns and name != "ground_truth_results":
            for row, value in enumerate(table.column(column).to_pylist()):
                if value is not None and not _whole(value):
                    raise _bad(name, row, column, value, "a whole number >= 0")
