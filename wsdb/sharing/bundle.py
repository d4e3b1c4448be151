"""Study bundles: a selection of a warehouse in one file that another lab imports.

A bundle is a zip archive (one file to attach, upload or cite; its members are stored, not
deflated, because Parquet is compressed already) holding:
- `manifest.json`: format and version, the schema revision and wsdb version that wrote it,
  when, the selection, and per file its row count, size and sha256; the citation or source
  of every super-net;
- `tables/<table>.parquet`: exactly the selected rows and every row they reference.
  Architecture ids differ between warehouses, so `tables/architectures.parquet` numbers its
  rows (`ref`) and carries each class's search space, canonical key and canonical encoding,
  and every other table refers to `architecture_ref`. An importer re-canonicalises each
  encoding and refuses a bundle whose key disagrees: identities are recomputed, never trusted;
- `checkpoints/<super-net id>/<label>.pt` with `--with-checkpoints`.

Import checks the format, the version and every sha256 before it writes anything, maps the
architectures by canonical key (creating unknown classes from their encoding), and inserts in
one transaction, skipping rows the warehouse holds: a second import adds nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from wsdb import __version__

from wsdb.warehouse import lookup

from wsdb.base import values
from wsdb.sharing import bundle_rules as rules
from wsdb.warehouse.artifacts import location_uri, read_verified, write_bytes
from wsdb.warehouse import db as database
from wsdb.warehouse.bulk import append_rows, arrow_type, insert_new_rows
from wsdb.warehouse.catalog import store_architectures
from wsdb.base.errors import InvalidArchitecture, WsdbError
from wsdb.base.files import atomic_output, check_output, regular_input
from wsdb.warehouse.schema import Base, utcnow
from wsdb.spaces import registry
from wsdb.spaces.subspace_names import CELL_ENCODING
from wsdb.spaces.canonical import CanonicalArchitecture

FORMAT = "wsdb-bundle"
FORMAT_VERSION = 1
# Tables in the order an import writes them (referenced before referencing).
TABLES = ("evaluation_protocols", "subspaces", "subspace_members", "subspace_cells", "architecture_samples",
          "architecture_sample_members", "supernets", "run_seeds", "checkpoints", "architecture_weights", "edge_weights",
          "derived_architectures", "proxy_scores", "search_runs", "search_traces", "ground_truth_results")
# Tables added after format version 1 began, with the schema revision that added them: a
# bundle written before that revision has none of their rows.
INTRODUCED_AT = {"edge_weights": "0008", "run_seeds": "0008", "subspace_cells": "0008"}


def _older(revision, name: str) -> bool:
    return name in INTRODUCED_AT and isinstance(revision, str) and revision < INTRODUCED_AT[name]
# The encoding kind of each space's canonical encoding (what an importer re-canonicalises).
CANONICAL_ENCODING_KIND = {"nb101": "nb101-cell", "nb201": "nb201-arch-str", "ws64": "ws64-label"}


@dataclass
class Selection:
    supernets: list[str] = field(default_factory=list)
    sweep: str | None = None
    samples: list[str] = field(default_factory=list)
    search_runs: list[str] = field(default_factory=list)
    everything: bool = False
    with_ground_truth: bool = False
    with_checkpoints: bool = False

    def describe(self) -> dict:
        return {"supernets": self.supernets, "sweep": self.sweep, "samples": self.samples,
                "search_runs": self.search_runs, "all": self.everything,
                "with_ground_truth": self.with_ground_truth, "with_checkpoints": self.with_checkpoints}


def _table(name: str) -> sa.Table:
    return Base.metadata.tables[name]


def _select(connection, name: str, where: str, params: dict) -> pa.Table:
    table = _table(name)
    columns = [c.name for c in table.columns]
    rows = connection.execute(sa.text(f"SELECT {', '.join(columns)} FROM {name} WHERE {where}"), params).all()
    return pa.table({c: pa.array([r[i] for r in rows], type=arrow_type(table.c[c])) for i, c in enumerate(columns)})


def _in(column: str, values, params: dict, key: str) -> str:
    """`column IN (:key_0, ...)` with its parameters (FALSE for none)."""
    values = sorted(set(values))
    if not values:
        return "FALSE"
    params.update({f"{key}_{i}": v for i, v in enumerate(values)})
    return f"{column} IN ({', '.join(f':{key}_{i}' for i in range(len(values)))})"


def _selected_supernets(connection, selection: Selection) -> set[str]:
    if selection.everything:
        return {i for (i,) in connection.execute(sa.text("SELECT id FROM supernets"))}
    chosen = {lookup.supernet(connection, given).id for given in selection.supernets}
    if selection.sweep:
        payloads = connection.execute(sa.text("SELECT payload_json FROM jobs WHERE sweep = :s AND kind = 'train'"),
                                      {"s": selection.sweep}).all()
        if not payloads:
            raise WsdbError(f"--sweep {selection.sweep!r}: no training jobs of that sweep (`wsdb jobs sweeps` lists them)")
        ids = {json.loads(payload)["supernet_id"] for (payload,) in payloads}
        params: dict = {}
        chosen |= {i for (i,) in connection.execute(sa.text("SELECT id FROM supernets WHERE " + _in("id", ids, params, "s")),
                                                    params)}
    return chosen


def _select_in(connection, name: str, column: str, values) -> pa.Table:
    """The rows of table `name` whose `column` is one of `values`."""
    params: dict = {}
    return _select(connection, name, _in(column, values, params, "v"), params)


def _selected_runs(connection, selection: Selection, supernets: set[str]) -> pa.Table:
    """The search runs named, guided by a selected super-net, or all of them."""
    params: dict = {}
    where = " OR ".join(filter(None, [
        "TRUE" if selection.everything else None,
        _in("id", selection.search_runs, params, "r") if selection.search_runs else None,
        _in("supernet_id", supernets, params, "n") if supernets else None])) or "FALSE"
    runs = _select(connection, "search_runs", where, params)
    missing = set(selection.search_runs) - set(runs.column("id").to_pylist())
    if missing:
        raise WsdbError(f"--search-run: no search run {sorted(missing)[0]!r} in this warehouse")
    return runs


def _listed_subspaces(connection, tables: dict[str, pa.Table]) -> None:
    """The sub-spaces with listed members (derived, constructed) that selected rows name, with
    their members and cells (predicates are the same in every warehouse)."""
    used = {(s, n) for table in ("supernets", "search_runs", "architecture_samples")
            for s, n in zip(tables[table].column("search_space").to_pylist(), tables[table].column("subspace").to_pylist())
            if n}
    listed = [(s, n) for s, n in used if lookup.rows(connection, "SELECT 1 FROM subspaces WHERE search_space = :s AND "
                                                                 "name = :n AND predicate_sql IS NULL", {"s": s, "n": n})]
    where = " OR ".join(f"(search_space = :s{i} AND name = :n{i})" for i in range(len(listed))) or "FALSE"
    params = {k: v for i, (s, n) in enumerate(listed) for k, v in ((f"s{i}", s), (f"n{i}", n))}
    tables["subspaces"] = _select(connection, "subspaces", where, params)
    for name in ("subspace_members", "subspace_cells"):
        tables[name] = _select(connection, name, where.replace("name =", "subspace ="), params)


def collect(connection, selection: Selection) -> dict[str, pa.Table]:
    """The selected rows and everything they reference, per table (architecture ids as stored)."""
    supernets = _selected_supernets(connection, selection)
    for name in selection.samples:
        lookup.sample(connection, name)
    runs = _selected_runs(connection, selection, supernets)
    supernets |= {s for s in runs.column("supernet_id").to_pylist() if s}
    if not supernets and not selection.samples and runs.num_rows == 0:
        raise WsdbError("the selection matches nothing: " + ("the warehouse holds no super-nets, samples or search runs"
                                                            if selection.everything else
                                                            "name --supernet, --sweep, --sample, --search-run or --all"))
    tables: dict[str, pa.Table] = {"supernets": _select_in(connection, "supernets", "id", supernets), "search_runs": runs}
    for name in ("run_seeds", "checkpoints"):
        tables[name] = _select_in(connection, name, "supernet_id", supernets)
    checkpoints = tables["checkpoints"].column("id").to_pylist()
    for name in ("architecture_weights", "edge_weights", "derived_architectures", "proxy_scores"):
        tables[name] = _select_in(connection, name, "checkpoint_id", checkpoints)
    tables["search_traces"] = _select_in(connection, "search_traces", "run_id", runs.column("id").to_pylist())
    samples = set(selection.samples) | {s for s in runs.column("sample_name").to_pylist() if s}
    if selection.everything:
        samples |= {s for (s,) in connection.execute(sa.text("SELECT name FROM architecture_samples"))}
    tables["architecture_samples"] = _select_in(connection, "architecture_samples", "name", samples)
    tables["architecture_sample_members"] = _select_in(connection, "architecture_sample_members", "sample_name", samples)
    protocols = set(tables["proxy_scores"].column("protocol_id").to_pylist()) | {
        s for s in runs.column("protocol_id").to_pylist() if s}
    tables["evaluation_protocols"] = _select_in(connection, "evaluation_protocols", "id", protocols)
    _listed_subspaces(connection, tables)
    architectures = set()
    for name in ("proxy_scores", "search_traces", "architecture_sample_members", "subspace_members",
                 "derived_architectures"):
        architectures |= set(tables[name].column("architecture_id").to_pylist())
    tables["ground_truth_results"] = _select_in(connection, "ground_truth_results", "architecture_id",
                                                architectures if selection.with_ground_truth else ())
    tables["architectures"] = _select_in(connection, "architectures", "id", architectures)
    return tables


def _with_refs(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """Architecture ids replaced by bundle-local refs (the row numbers of architectures)."""
    archs = tables["architectures"]
    ref_of = {i: ref for ref, i in enumerate(archs.column("id").to_pylist())}
    out = {"architectures": archs.drop_columns(["id"]).append_column("ref", pa.array(range(archs.num_rows), pa.int64()))}
    for name in TABLES:
        table = tables[name]
        if "architecture_id" in table.column_names:
            refs = pa.array([ref_of[i] for i in table.column("architecture_id").to_pylist()], pa.int64())
            table = table.drop_columns(["architecture_id"]).append_column("architecture_ref", refs)
        out[name] = table
    return out


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export(url: str, out: Path, selection: Selection) -> dict:
    """Write the bundle; returns its manifest."""
    out = check_output(out, "bundle")
    if out.exists():
        raise WsdbError(f"{out} exists: bundles are never overwritten, choose another --out")
    with database.warehouse(url, read_only=True) as engine, engine.connect() as connection:
        tables = _with_refs(collect(connection, selection))
        supernets = tables["supernets"].select(["id", "name", "origin", "source", "search_space", "subspace"]).to_pylist()
        checkpoint_files = []
        if selection.with_checkpoints:
            for row in tables["checkpoints"].to_pylist():
                if row["uri"]:
                    if row["sha256"] is None:  # only verified files travel
                        raise WsdbError(f"checkpoint {row['supernet_id']}/{row['label']} has no recorded sha256: "
                                        "wsdb packs only files it can verify; export without --with-checkpoints")
                    checkpoint_files.append((f"checkpoints/{row['supernet_id']}/{row['label']}.pt",
                                             read_verified(row["uri"], row["sha256"], f"checkpoint {row['label']}")))
    files: dict[str, bytes] = {}
    for name, table in tables.items():
        sink = io.BytesIO()
        pq.write_table(table, sink)
        files[f"tables/{name}.parquet"] = sink.getvalue()
    files.update(checkpoint_files)
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "schema_revision": database.head_revision(), "wsdb_version": __version__,
        "created_at": utcnow().isoformat(timespec="seconds") + "Z", "selection": selection.describe(),
        "files": {name: {"sha256": _sha256(data), "bytes": len(data),
                         **({"rows": tables[name[7:-8]].num_rows} if name.startswith("tables/") else {})}
                  for name, data in sorted(files.items())},
        "supernets": [{"id": s["id"], "name": s["name"], "search_space": s["search_space"], "subspace": s["subspace"],
                       "origin": s["origin"], "source": s["source"]} for s in supernets],
    }
    with atomic_output(out, "bundle") as partial, zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True, default=str))
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
    return manifest


# --- reading -----------------------------------------------------------------------------------


def _open(path: Path) -> tuple[dict, dict[str, bytes]]:
    """The manifest and every file it lists, each within the bounds of wsdb/sharing/bundle_rules.py and
    checked against its sha256."""
    path = Path(path)
    if not path.exists():
        raise WsdbError(f"{path}: no such bundle")
    regular_input(path, "bundle")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "manifest.json" not in names:
                raise WsdbError(f"{path}: not a wsdb bundle (no manifest.json)")
            if archive.getinfo("manifest.json").file_size > rules.MANIFEST_LIMIT:
                raise WsdbError(f"{path}: manifest.json is larger than {rules.MANIFEST_LIMIT >> 20} MiB")
            manifest = json.loads(archive.read("manifest.json"))
            problem = rules.manifest_problem(manifest, TABLES, FORMAT, FORMAT_VERSION)
            if problem:
                raise WsdbError(f"{path}: {problem}")
            try:
                files = rules.read_members(archive, manifest, path.stat().st_size)
            except WsdbError as error:
                raise WsdbError(f"{path}: {error}") from None
            for name, data in files.items():
                if _sha256(data) != manifest["files"][name]["sha256"]:
                    raise WsdbError(f"{path}: {name} does not match its sha256 in the manifest (damaged or altered)")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, json.JSONDecodeError, UnicodeDecodeError, OSError,
            EOFError, NotImplementedError, RuntimeError, ValueError) as error:
        raise WsdbError(f"{path}: not a readable wsdb bundle ({' '.join(str(error).split())[:160]})") from None
    return manifest, files


def show(path: Path) -> dict:
    """The manifest, after checking every file."""
    manifest, _ = _open(path)
    return manifest


def _tables(path: Path, files: dict[str, bytes], manifest: dict) -> dict[str, pa.Table]:
    """Each table of the bundle, its rows as many as the manifest declares and each by the
    rules of wsdb/sharing/bundle_rules.py."""
    revision = manifest["schema_revision"]
    tables = {}
    for name in ("architectures", *TABLES):
        data = files.get(f"tables/{name}.parquet")
        if data is None and _older(revision, name):
            columns = _table(name).columns
            tables[name] = pa.table({c.name: pa.array([], type=arrow_type(c)) for c in columns})
            continue
        if data is None:
            raise WsdbError(f"{path}: tables/{name}.parquet is missing from the manifest")
        try:
            tables[name] = pq.read_table(io.BytesIO(data))
        except (pa.ArrowInvalid, OSError) as error:
            raise WsdbError(f"{path}: tables/{name}.parquet is not readable Parquet ({error})") from None
        declared = manifest["files"][f"tables/{name}.parquet"]["rows"]
        if tables[name].num_rows != declared:
            raise WsdbError(f"{path}: tables/{name}.parquet holds {tables[name].num_rows:,} rows, the manifest says "
                            f"{declared:,}")
        if name != "architectures":
            expected = {"architecture_ref" if c.name == "architecture_id" else c.name for c in _table(name).columns}
            if set(tables[name].column_names) != expected:
                raise WsdbError(f"{path}: tables/{name}.parquet has columns {sorted(tables[name].column_names)}, "
                                f"expected {sorted(expected)}")
    for name, table in tables.items():
        if name != "architectures":
            try:
                rules.check_rows(name, table, tables["architectures"].num_rows)
            except WsdbError as error:
                raise WsdbError(f"{path}: {error}") from None
    return tables


def _check_cells(path: Path, table: pa.Table) -> None:
    """Each bundled cell of a random-cells sub-space must be a valid cell of its space."""
    for row in table.select(["search_space", "subspace", "encoding"]).to_pylist():
        try:
            if row["search_space"] not in CELL_ENCODING:
                raise InvalidArchitecture(f"{row['search_space']!r} has no listed cells")
            registry.canonicalize(CELL_ENCODING[row["search_space"]], row["encoding"])
        except InvalidArchitecture as error:
            raise WsdbError(f"{path}: sub-space {row['subspace']!r}, cell {row['encoding']!r}: {error}") from None


def _architectures(path: Path, table: pa.Table) -> list[CanonicalArchitecture]:
    """Each bundled class re-canonicalised from its encoding; its key must agree."""
    archs = []
    for position, row in enumerate(table.select(["ref", "search_space", "canonical_key", "canonical_encoding",
                                                 "trainable_parameters"]).to_pylist()):
        if row["ref"] != position:  # other tables refer to the architectures by these numbers
            raise WsdbError(f"{path}: tables/architectures.parquet row {position}: ref {row['ref']!r} is not {position}")
        problem = values.problem(row["trainable_parameters"], "count")
        if problem:
            raise WsdbError(f"{path}: architecture {position}: trainable_parameters = {row['trainable_parameters']!r} "
                            f"is not {problem}")
        kind = CANONICAL_ENCODING_KIND.get(row["search_space"])
        try:
            if kind is None:
                raise InvalidArchitecture(f"unknown search space {row['search_space']!r}")
            arch = registry.canonicalize(kind, row["canonical_encoding"])
        except InvalidArchitecture as error:
            raise WsdbError(f"{path}: architecture {row['ref']}: {error}") from None
        if arch.canonical_key != row["canonical_key"]:
            raise WsdbError(f"{path}: architecture {row['ref']}: its encoding canonicalises to {arch.canonical_key}, "
                            f"not the bundled key {row['canonical_key']}")
        if row["trainable_parameters"] is not None:
            arch = CanonicalArchitecture(arch.search_space, arch.canonical_key, arch.canonical_encoding, arch.features,
                                         arch.subspaces, row["trainable_parameters"])
        archs.append(arch)
    return archs


def _checkpoint_files(path: Path, files: dict[str, bytes], checkpoints: pa.Table,
                      location: str) -> tuple[pa.Table, list[tuple[str, bytes]]]:
    """Where each bundled checkpoint file goes (`location`/<super-net id>/<label>.pt, names made
    from the ids and labels bundle_rules checked, inside `location`), and the rows pointing
    there. A row without a bundled file gets no URI: an imported row never points at a file
    the import did not place (a bundle could name any file of the importer's disk)."""
    base = location_uri(location)
    uris, placed = [], []
    for row in checkpoints.select(["supernet_id", "label", "sha256"]).to_pylist():
        data = files.get(f"checkpoints/{row['supernet_id']}/{row['label']}.pt")
        if data is None:
            uris.append(None)
            continue
        if row["sha256"] is None or _sha256(data) != row["sha256"]:
            raise WsdbError(f"{path}: checkpoint {row['supernet_id']}/{row['label']} does not match its row's sha256")
        uri = f"{base}/{row['supernet_id']}/{row['label']}.pt"
        if base.startswith("file://") and not Path(uri.removeprefix("file://")).resolve().is_relative_to(
                Path(base.removeprefix("file://")).resolve()):
            raise WsdbError(f"{path}: checkpoint {row['supernet_id']}/{row['label']} would land outside {location}")
        uris.append(uri)
        placed.append((uri, data))
    index = checkpoints.column_names.index("uri")
    return checkpoints.set_column(index, "uri", pa.array(uris, pa.string())), placed


def _place(path: Path, placed: list[tuple[str, bytes]], written: list[str]) -> None:
    """Write the checkpoint files, appending each new one to `written` as it lands (the caller
    removes them if the import fails); a file already there with the same content is left as it
    is, one with other content is refused."""
    for uri, data in placed:
        fs, local = fsspec.core.url_to_fs(uri)
        if fs.exists(local):
            if _sha256(read_verified(uri, None, "checkpoint")) != _sha256(data):
                raise WsdbError(f"{path}: {uri} exists with other content: import into another --checkpoint-dir")
            continue
        try:
            write_bytes(uri, data)
        except OSError as error:
            raise WsdbError(f"{path}: cannot place checkpoint file {uri} ({error.strerror or error})") from None
        written.append(uri)


def _remove(uris: list[str]) -> None:
    for uri in uris:
        fs, local = fsspec.core.url_to_fs(uri)
        with contextlib.suppress(OSError):
            fs.rm(local)


def import_bundle(url: str, path: Path, checkpoint_dir: str = "checkpoints") -> dict[str, int]:
    """Import a bundle into a warehouse in one transaction; rows it holds are skipped.
    Bundled checkpoint files go under `checkpoint_dir`. Returns the rows added per table."""
    manifest, files = _open(path)
    revision = manifest.get("schema_revision")
    if isinstance(revision, str) and revision > database.head_revision():
        raise WsdbError(f"{path}: written by a wsdb with schema {revision}, newer than this one's "
                        f"{database.head_revision()}: upgrade wsdb")
    tables = _tables(path, files, manifest)
    archs = _architectures(path, tables["architectures"])
    _check_cells(path, tables["subspace_cells"])
    database.open_engine(url).dispose()  # the target must be a warehouse before files are placed
    tables["checkpoints"], placed = _checkpoint_files(path, files, tables["checkpoints"], checkpoint_dir)
    added, written = {}, []
    try:
        with database.warehouse(url) as engine, engine.begin() as connection:
            _insert(connection, archs, tables, added)
            _place(path, placed, written)  # last, inside the transaction: a failure rolls the rows back
    except BaseException:  # an interrupt too
        _remove(written)  # the rows were rolled back: no file of the import stays
        raise
    return added


def _insert(connection, archs: list[CanonicalArchitecture], tables: dict[str, pa.Table],
            added: dict[str, int]) -> None:
    """Every bundled row, architectures mapped by canonical key, rows the warehouse holds skipped."""
    by_space: dict[str, list[tuple[int, CanonicalArchitecture]]] = {}
    for ref, arch in enumerate(archs):
        by_space.setdefault(arch.search_space, []).append((ref, arch))
    ids_by_ref = [0] * len(archs)
    added["architectures"] = 0
    for space, items in by_space.items():
        ids, new, _ = store_architectures(connection, [a for _, a in items])
        added["architectures"] += new
        for ref, arch in items:
            ids_by_ref[ref] = ids[arch.canonical_key]
    known_runs = {r for (r,) in connection.execute(sa.text("SELECT id FROM search_runs"))}
    for name in TABLES:
        table = tables[name]
        if "architecture_ref" in table.column_names:
            mapped = pa.array([ids_by_ref[r] for r in table.column("architecture_ref").to_pylist()], pa.int32())
            table = table.drop_columns(["architecture_ref"]).append_column("architecture_id", mapped)
        target = _table(name)
        table = table.select([c.name for c in target.columns])
        if name == "search_traces":  # no key: traces of the runs this warehouse did not hold
            fresh = [r not in known_runs for r in table.column("run_id").to_pylist()]
            added[name] = append_rows(connection, target, table.filter(pa.array(fresh, pa.bool_())))
        else:
            added[name] = insert_new_rows(connection, target, table)
