"""The `wsdb` command as a user runs it: output, exit status, one-line errors, no writes on
bad input."""

import csv
import io
import json

import duckdb
import pytest

from conftest import run_cli
from wsdb.warehouse.db import head_revision as database_head

GOLDEN = (
    "--space", "nb101",
    "--matrix", "[[0,1,1,1,0,1,0],[0,0,0,0,0,0,1],[0,0,0,0,0,0,1],[0,0,0,0,1,0,0],[0,0,0,0,0,0,1],[0,0,0,0,0,0,1],[0,0,0,0,0,0,0]]",
    "--ops", "input,conv1x1-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,maxpool3x3,output",
)


def test_arch_show_json_for_each_space():
    result = run_cli("arch", "show", *GOLDEN, "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["canonical_key"] == "28cfc7874f6d200472e1a9dcd8650aa0"
    assert record["subspaces"] == ["FULL", "A4", "NRES"]

    nb201 = json.loads(run_cli("arch", "show", "--space", "nb201", "--index", "0", "--json").stdout)
    assert nb201["search_space"] == "nb201" and "functional_key" in nb201["features"]
    ws64 = json.loads(run_cli("arch", "show", "--space", "ws64", "--label", "434", "--json").stdout)
    assert ws64["canonical_key"] == "434" and ws64["features"]["num_sep_conv5x5"] == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (("--space", "nb101", "--matrix", "[[0,1],[1,0]]", "--ops", "input,output"), "not strictly upper-triangular"),
        (("--space", "nb101", "--matrix", "011|001|000", "--ops", "input,conv7x7,output"), "unknown NB101 op 'conv7x7'"),
        (("--space", "nb101", "--matrix", "0100|0000|0001|0000", "--ops", "input,conv1x1,conv1x1,output"), "not connected"),
        (("--space", "nb201", "--arch-str", "|none~0|+|none~0|"), "malformed NB201 arch string"),
        (("--space", "nb999", "--label", "111"), "unknown search space 'nb999'"),
        (("--space", "ws64", "--label", "555"), "111..444"),
        (("--space", "nb201", "--label", "111"), "--label do not apply to --space nb201"),
    ],
)
def test_bad_input_is_one_line_on_stderr_with_exit_status_1(args, message):
    result = run_cli("arch", "show", *args)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wsdb: error: ") and message in lines[0]


def test_init_summary_and_status_on_a_file_named_by_wsdb_url(tmp_path):
    path = tmp_path / "study.duckdb"
    env = {"WSDB_URL": str(path)}
    first = run_cli("init", env=env)
    assert first.returncode == 0, first.stderr
    assert "created warehouse" in first.stdout and "nb201: 6466 new architectures" in first.stdout
    again = run_cli("init", env=env)
    assert "already initialized" in again.stdout and "nb201: 0 new architectures" in again.stdout
    summary = json.loads(run_cli("summary", "--json", env=env).stdout)
    assert {row["search_space"]: row["architectures_stored"] for row in summary} == {"darts": 0, "nb101": 0, "nb201": 6466, "ws64": 64}
    status = json.loads(run_cli("db", "status", "--json", "--db", str(path)).stdout)
    assert status["schema"] == database_head() and status["rows"]["architecture_encodings"] == 31378
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT COUNT(*) FROM architecture_subspaces").fetchone() == (6530,)


def test_arch_show_with_db_reports_the_stored_id(tmp_path):
    path = tmp_path / "w.duckdb"
    run_cli("init", "--db", str(path))
    record = json.loads(run_cli("arch", "show", "--space", "ws64", "--index", "63", "--db", str(path), "--json").stdout)
    assert record["canonical_key"] == "444" and isinstance(record["architecture_id"], int)


def test_commands_on_a_missing_warehouse_fail_without_creating_it(tmp_path):
    path = tmp_path / "absent.duckdb"
    for args in (("summary",), ("db", "status"), ("db", "upgrade"), ("spaces", "populate", "ws64")):
        result = run_cli(*args, "--db", str(path))
        assert result.returncode == 1, args
        assert "wsdb: error:" in result.stderr
    assert not path.exists()


def test_spaces_list_csv(tmp_path):
    """Without a warehouse: what wsdb defines, predicates first, then the constructions."""
    result = run_cli("spaces", "list", "--csv", "-", cwd=tmp_path)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["search_space", "name", "kind", "members", "cells", "parent", "description"]
    assert sum(r["search_space"] == "nb101" and r["kind"] == "predicate" for r in rows) == 7
    assert {r["name"] for r in rows if r["kind"] == "construction"} == {
        "1SHOT1-SS1", "1SHOT1-SS2", "1SHOT1-SS3", "ZHANG-ZHANG-YANG", "VALID"}
