"""Bundles (export, import, show) and the self-contained HTML report, checked in headless
Chromium: the round trip gives the same analyses on both sides, on DuckDB and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from conftest import run_cli
from hostile_inputs import resign
from wsdb.analyses import runner as analysis

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Analyses compared between the warehouses, with the parameters they need.
COMPARED = {"correlation": {}, "correlation_summary": {}, "top_k": {}, "stability_checkpoints": {"last_k": "8"},
            "stability_supernets": {}, "bias_by_feature": {}, "bias_parameters": {}, "newest_scores": {}}


@pytest.fixture
def study(demo_warehouse, tmp_path) -> Path:
    """A copy of the demo warehouse: ten Pourchot et al. super-nets and a ws64 trajectory."""
    db = tmp_path / "a.duckdb"
    shutil.copy(demo_warehouse[0] / "demo.duckdb", db)
    return db


def _fingerprint(db: str) -> dict:
    """Row counts and a content hash of every table (architecture ids aside, which differ)."""
    result = run_cli("db", "status", "--json", "--db", db)
    return json.loads(result.stdout)


def _analyses(url: str) -> dict[str, list[tuple]]:
    """Each compared analysis' rows, with architecture ids replaced by canonical keys and floats
    rounded (DuckDB's parallel aggregates differ in the last bits from run to run)."""
    import duckdb

    out = {}
    for name, params in COMPARED.items():
        table = analysis.query(url, name, params).table
        keys = {}
        if "architecture_id" in table.column_names:
            con = duckdb.connect(url.removeprefix("duckdb:///"), read_only=True)
            keys = dict(con.execute("SELECT id, canonical_key FROM architectures").fetchall())
            con.close()
        rows = []
        for row in table.to_pylist():
            if "architecture_id" in row:
                row["architecture_id"] = keys[row["architecture_id"]]
            rows.append(tuple((k, round(v, 9) if isinstance(v, float) and not math.isnan(v) else v)
                              for k, v in sorted(row.items())))
        out[name] = sorted(rows, key=repr)
    return out


def _pull_if_postgres(target: str, tmp_path: Path) -> str:
    """Analyses run on DuckDB: a PostgreSQL warehouse is pulled into a file first."""
    if target.startswith("postgresql"):
        local = tmp_path / "pulled.duckdb"
        assert run_cli("pull", "--from", target, "--to", str(local)).returncode == 0
        return f"duckdb:///{local}"
    return target


def _import(bundle: Path, target: str, init: bool = True, twice: bool = False) -> dict:
    if init:  # nothing pre-stored: the bundle alone fills the warehouse
        assert run_cli("init", "--populate", "", "--db", target).returncode == 0
    imported = run_cli("bundle", "import", str(bundle), "--json", "--db", target)
    assert imported.returncode == 0, imported.stderr
    if twice:
        again = json.loads(run_cli("bundle", "import", str(bundle), "--json", "--db", target).stdout)
        assert sum(again.values()) == 0  # a second import adds nothing
    return json.loads(imported.stdout)


def _export(study: Path, out: Path, *selection: str) -> Path:
    exported = run_cli("bundle", "export", "--out", str(out), *selection, "--with-ground-truth", "--db", str(study))
    assert exported.returncode == 0, exported.stderr
    return out


def test_round_trip_gives_identical_analyses(study, tmp_path):
    """A -> bundle -> an empty B, and a B that held part of it already: the same analyses."""
    whole = _export(study, tmp_path / "study.wsdb", "--all")
    part = _export(study, tmp_path / "part.wsdb", "--supernet", "to-share/baseline_ft_bn/full/0")
    manifest = json.loads(run_cli("bundle", "show", str(whole), "--json").stdout)
    assert manifest["format_version"] == 1 and manifest["schema_revision"] and len(manifest["supernets"]) == 11
    with zipfile.ZipFile(whole) as archive:
        for name, facts in manifest["files"].items():
            assert hashlib.sha256(archive.read(name)).hexdigest() == facts["sha256"]
    expected = _analyses(f"duckdb:///{study}")
    empty, partial = str(tmp_path / "empty.duckdb"), str(tmp_path / "partial.duckdb")
    _import(whole, empty)
    _import(part, partial)
    added = _import(whole, partial, init=False, twice=True)
    assert added["supernets"] == 10 and added["architectures"] < 9890  # the part's classes were there
    for target in (empty, partial):
        assert _analyses(f"duckdb:///{target}") == expected, target
    table1 = [run_cli("report", "table1", "--markdown", "--db", db).stdout for db in (str(study), empty)]
    assert table1[0] == table1[1] and "0.56 ± 0.04" in table1[0]  # Pourchot et al.'s Table 1 cells


@pytest.mark.postgres
def test_round_trip_through_postgresql(study, tmp_path, postgres_url):
    part = _export(study, tmp_path / "part.wsdb", "--supernet", "to-share/baseline_ft_bn/full/0")
    local = str(tmp_path / "local.duckdb")
    _import(part, local)
    _import(part, postgres_url, twice=True)
    pulled = _pull_if_postgres(postgres_url, tmp_path)
    assert _analyses(pulled) == _analyses(f"duckdb:///{local}")
    if CHROMIUM or os.environ.get("WSDB_REQUIRE_CHROMIUM") == "1":  # the report of the PostgreSQL study
        _check_in_browser(Path(pulled.removeprefix("duckdb:///")), tmp_path / "html")


def _rebuilt(source: Path, target: Path, edit) -> None:
    """A copy of a bundle with `edit(name, data)` applied to each member (None drops it)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            data = edit(name, old.read(name))
            if data is not None:
                new.writestr(name, data)


def test_damaged_bundles_are_refused_and_nothing_is_written(study, tmp_path):
    bundle = tmp_path / "study.wsdb"
    assert run_cli("bundle", "export", "--out", str(bundle), "--supernet", "zhang2020/last128",
                   "--db", str(study)).returncode == 0
    target = str(tmp_path / "b.duckdb")
    assert run_cli("init", "--db", target).returncode == 0
    before = _fingerprint(target)
    flipped = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as archive:
        member = archive.getinfo("tables/proxy_scores.parquet")
    position = member.header_offset + 30 + len(member.filename) + member.file_size // 2
    flipped[position] ^= 0x01
    (tmp_path / "flipped.wsdb").write_bytes(bytes(flipped))

    def newer(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["format_version"] = 99
        return json.dumps(manifest).encode()

    def resigned_tamper(name, data):  # a changed table whose manifest was not updated (same size)
        return data[:-1] + bytes([data[-1] ^ 1]) if name == "tables/supernets.parquet" else data

    _rebuilt(bundle, tmp_path / "missing.wsdb", lambda name, data: None if name.endswith("checkpoints.parquet") else data)
    _rebuilt(bundle, tmp_path / "newer.wsdb", newer)
    _rebuilt(bundle, tmp_path / "tampered.wsdb", resigned_tamper)
    (tmp_path / "truncated.wsdb").write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
    for name, message in (("flipped", "flipped.wsdb"), ("missing", "tables/checkpoints.parquet is listed"),
                          ("newer", "format version 99 is newer"), ("tampered", "does not match its sha256"),
                          ("truncated", "not a readable wsdb bundle"), ("absent", "no such bundle")):
        result = run_cli("bundle", "import", str(tmp_path / f"{name}.wsdb"), "--db", target)
        assert result.returncode == 1 and message in result.stderr, (name, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    assert _fingerprint(target) == before
    empty = str(tmp_path / "empty.duckdb")
    assert run_cli("init", "--db", empty).returncode == 0
    nothing = run_cli("bundle", "export", "--out", str(tmp_path / "none.wsdb"), "--all", "--db", empty)
    assert nothing.returncode == 1 and "matches nothing" in nothing.stderr
    assert not (tmp_path / "none.wsdb").exists()


def test_checkpoint_files_travel_with_their_checksums(tmp_path):
    db = str(tmp_path / "a.duckdb")
    assert run_cli("init", "--db", db).returncode == 0
    trained = run_cli("run-supernet", "--space", "ws64", "--dataset", "synthetic", "--synthetic-images", "64",
                      "--epochs", "1", "--batch-size", "32", "--channels", "4", "--cells", "1", "--quiet",
                      "--name", "tiny", "--checkpoint-dir", str(tmp_path / "ckpt"), "--db", db)
    assert trained.returncode == 0, trained.stderr
    bundle = tmp_path / "tiny.wsdb"
    assert run_cli("bundle", "export", "--out", str(bundle), "--supernet", "tiny", "--with-checkpoints",
                   "--db", db).returncode == 0
    target = str(tmp_path / "b.duckdb")
    assert run_cli("init", "--db", target).returncode == 0
    imported = run_cli("bundle", "import", str(bundle), "--checkpoint-dir", str(tmp_path / "theirs"), "--db", target)
    assert imported.returncode == 0, imported.stderr
    rows = json.loads(run_cli("sql", "SELECT uri, sha256 FROM checkpoints", "--json", "--db", target).stdout)
    assert len(rows) == 1 and rows[0]["uri"].startswith((tmp_path / "theirs").as_uri())
    copied = Path(rows[0]["uri"].removeprefix("file://"))
    assert hashlib.sha256(copied.read_bytes()).hexdigest() == rows[0]["sha256"]
    resumed = run_cli("evaluate", "--supernet", "tiny", "--protocol", "no-ft", "--n", "4", "--db", target)
    assert resumed.returncode == 0, resumed.stderr  # the imported checkpoint loads


# --- the HTML report in a real browser ------------------------------------------------------------


needs_chromium = pytest.mark.skipif(not CHROMIUM and os.environ.get("WSDB_REQUIRE_CHROMIUM") != "1",
                                    reason="Debian's chromium is not installed (.ci/run installs it)")


def _check_in_browser(study: Path, tmp_path: Path) -> str:
    """`wsdb report html` of a DuckDB warehouse, opened in headless chromium: no console error,
    no request but the page, every section, a scatter per super-net, the CLI's Spearman rho;
    returns the Table 1 text."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "WSDB_REQUIRE_CHROMIUM=1 but chromium is not installed"
    tmp_path.mkdir(exist_ok=True)
    page_file = tmp_path / "study.html"
    written = run_cli("report", "html", "--out", str(page_file), "--db", str(study))
    assert written.returncode == 0, written.stderr
    correlation = json.loads(run_cli("query", "correlation", "--json", "--db", str(study)).stdout)
    expected = {(r["supernet_name"], r["checkpoint_label"], r["protocol_id"]): r["spearman"] for r in correlation}
    supernets = json.loads(run_cli("sql", "SELECT COUNT(*) AS n FROM supernets", "--json", "--db", str(study)).stdout)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors, requests = [], []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_file.as_uri())
        page.wait_for_selector("#scatter .js-plotly-plot .scatterlayer .point")
        for section in ("holdings", "supernets", "table1", "correlation", "scatter", "regret", "bias", "stability",
                        "s-tau"):
            assert page.locator(f"section#{section} h2").is_visible(), section
            assert page.locator(f"section#{section} pre.reproduce").inner_text().startswith("wsdb "), section
        assert page.locator("#scatter .js-plotly-plot").count() == supernets[0]["n"]
        assert page.locator("#scatter .js-plotly-plot").first.locator(".point").count() == 1000
        shown = page.evaluate("""() => Array.from(document.querySelectorAll('#correlation-table tbody tr')).map(
            row => Object.fromEntries(Array.from(row.cells).map(cell => [cell.dataset.column,
                                                                         cell.dataset.value ?? cell.innerText])))""")
        checked = 0
        for row in shown:
            if row.get("spearman"):  # empty where the proxy is constant
                key = (row["supernet_name"], row["checkpoint_label"], row["protocol_id"])
                assert float(row["spearman"]) == pytest.approx(expected[key], rel=1e-12, abs=1e-15)
                checked += 1
        assert checked == sum(value is not None for value in expected.values()) > 0
        table1 = page.locator("#table1-nb101").inner_text() if page.locator("#table1-nb101").count() else ""
        screenshot = page.screenshot(full_page=True)
        browser.close()
    assert errors == []
    assert requests == [page_file.as_uri()]  # nothing fetched but the page itself
    assert len(screenshot) > 200_000
    return table1


@needs_chromium
def test_html_report_renders_offline_with_the_cli_numbers(study, tmp_path):
    assert "0.56 ± 0.04" in _check_in_browser(study, tmp_path)  # Pourchot et al.'s FULL BNS-FT cell


def test_a_bundle_written_before_edge_weights_and_run_seeds_still_imports(study, tmp_path):
    """A lab on the previous schema (0007) shares a bundle: no edge_weights, run_seeds or
    subspace_cells tables. It imports whole, those tables empty; a bundle of that revision lacking
    a table it did have is still refused."""
    bundle = _export(study, tmp_path / "new.wsdb", "--all")
    newer = ("edge_weights", "run_seeds", "subspace_cells")

    def write(path: Path, missing: tuple[str, ...]) -> Path:
        return resign(bundle, path, drop=lambda name: name in {f"tables/{t}.parquet" for t in missing},
                      manifest=lambda m: {**m, "schema_revision": "0007"})

    target = str(tmp_path / "b.duckdb")
    added = _import(write(tmp_path / "old.wsdb", newer), target)
    assert added["supernets"] == 11 and added["edge_weights"] == added["run_seeds"] == added["subspace_cells"] == 0
    refused = run_cli("bundle", "import", str(write(tmp_path / "broken.wsdb", (*newer, "checkpoints"))),
                      "--db", str(tmp_path / "c.duckdb"))
    assert refused.returncode == 1 and "tables/checkpoints.parquet is missing" in refused.stderr


def _trained_bundle(tmp_path: Path) -> tuple[Path, Path]:
    """A warehouse with one tiny trained ws64 super-net (two checkpoint files) and its bundle
    with the files."""
    db = tmp_path / "lab.duckdb"
    assert run_cli("init", "--populate", "ws64", "--db", str(db)).returncode == 0
    trained = run_cli("run-supernet", "--space", "ws64", "--dataset", "synthetic", "--synthetic-images", "32",
                      "--batch-size", "16", "--channels", "4", "--cells", "1", "--epochs", "2", "--quiet",
                      "--name", "tiny", "--checkpoint-dir", str(tmp_path / "lab-ck"), "--db", str(db))
    assert trained.returncode == 0, trained.stderr
    bundle = tmp_path / "lab.wsdb"
    assert run_cli("bundle", "export", "--out", str(bundle), "--all", "--with-checkpoints",
                   "--db", str(db)).returncode == 0
    return db, bundle


def test_a_bundle_cannot_plant_a_local_file_for_a_later_export(tmp_path):
    """A checkpoint row pointing at file:///etc/passwd without a sha256 (and without the file):
    the import keeps the row but no URI, and a later `export --with-checkpoints` of the victim's
    warehouse packs nothing of /etc/passwd. Rows whose URI has no recorded sha256 are never packed."""
    import pyarrow as pa

    _, bundle = _trained_bundle(tmp_path)

    def plant(table):
        uris = ["file:///etc/passwd"] * table.num_rows
        table = table.set_column(table.column_names.index("uri"), "uri", pa.array(uris, pa.string()))
        return table.set_column(table.column_names.index("sha256"), "sha256", pa.nulls(table.num_rows, pa.string()))

    planted = resign(bundle, tmp_path / "planted.wsdb", tables={"checkpoints": plant},
                     drop=lambda name: name.startswith("checkpoints/"))
    victim = tmp_path / "victim.duckdb"
    assert run_cli("init", "--populate", "", "--db", str(victim)).returncode == 0
    imported = run_cli("bundle", "import", str(planted), "--checkpoint-dir", str(tmp_path / "v-ck"),
                       "--db", str(victim))
    assert imported.returncode == 0, imported.stderr
    uris = json.loads(run_cli("sql", "SELECT uri FROM checkpoints", "--json", "--db", str(victim)).stdout)
    assert uris and all(r["uri"] is None for r in uris)
    shared = tmp_path / "shared.wsdb"
    assert run_cli("bundle", "export", "--out", str(shared), "--all", "--with-checkpoints",
                   "--db", str(victim)).returncode == 0
    with zipfile.ZipFile(shared) as archive:
        assert not [n for n in archive.namelist() if n.startswith("checkpoints/")]
        assert all(b"root:" not in archive.read(n) for n in archive.namelist())
    # a warehouse that holds such a row (written before this rule) refuses to pack it
    lab = tmp_path / "lab.duckdb"
    assert run_cli("sql", "--write", "UPDATE checkpoints SET sha256 = NULL", "--db", str(lab)).returncode == 0
    refused = run_cli("bundle", "export", "--out", str(tmp_path / "x.wsdb"), "--all", "--with-checkpoints",
                      "--db", str(lab))
    assert refused.returncode == 1 and "no recorded sha256" in refused.stderr
    assert not (tmp_path / "x.wsdb").exists()


def test_a_refused_or_failed_import_leaves_no_file_behind(tmp_path, monkeypatch):
    """Files are placed last, inside the transaction, and removed when it fails: a bundle whose
    rows are refused places nothing, and an import that fails after placing them takes them back."""
    import pyarrow as pa

    from wsdb.sharing import bundle as bundles
    from wsdb.base.errors import WsdbError

    _, bundle = _trained_bundle(tmp_path)

    def bad_step(table):
        steps = table.column("step").to_pylist()
        steps[0] = -3
        return table.set_column(table.column_names.index("step"), "step", pa.array(steps, pa.int64()))

    target = tmp_path / "t.duckdb"
    assert run_cli("init", "--populate", "", "--db", str(target)).returncode == 0
    refused = run_cli("bundle", "import", str(resign(bundle, tmp_path / "bad.wsdb", tables={"checkpoints": bad_step})),
                      "--checkpoint-dir", str(tmp_path / "t-ck"), "--db", str(target))
    assert refused.returncode == 1 and "step = -3 is not a whole number" in refused.stderr
    assert not (tmp_path / "t-ck").exists()
    real_place = bundles._place

    def place_then_fail(path, placed, written):
        real_place(path, placed, written)
        raise WsdbError("the disk filled up")

    monkeypatch.setattr(bundles, "_place", place_then_fail)
    with pytest.raises(WsdbError, match="the disk filled up"):
        bundles.import_bundle(f"duckdb:///{target}", bundle, str(tmp_path / "t-ck"))
    assert not list((tmp_path / "t-ck").rglob("*.pt"))
    monkeypatch.setattr(bundles, "_place", real_place)
    assert bundles.import_bundle(f"duckdb:///{target}", bundle, str(tmp_path / "t-ck"))["checkpoints"] == 2
    assert len(list((tmp_path / "t-ck").rglob("*.pt"))) == 2
