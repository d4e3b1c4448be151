"""A non-editable install ships ingest/, trainers/, queries/, migrations/ and package data."""

import os
import subprocess
import sys
import zipfile

import pytest
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_wheel_contains_every_part_and_migrates_from_an_installed_copy(tmp_path):
    # build from a copy of the tracked files: a build/ folder in the checkout could hold stale copies
    source = tmp_path / "source"
    listing = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if listing.returncode != 0:
        pytest.skip("not a git checkout: the tracked files are unknown")
    for name in listing.stdout.split():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes((REPO / name).read_bytes())
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(source)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("wsdb-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "wsdb/cli/__init__.py", "wsdb/cli/__main__.py", "wsdb/ingest/__init__.py", "wsdb/trainers/__init__.py", "wsdb/queries/__init__.py",
        "wsdb/migrations/env.py", "wsdb/migrations/versions/0001_core_schema.py", "wsdb/data/nb201_index_order.txt",
    ):
        assert expected in names, expected
    # every tracked module of the package folders is in the wheel (a sub-package missing from
    # pyproject's list once left wsdb.spaces out of non-editable installs)
    folders = {"wsdb/": "wsdb/", "ingest/": "wsdb/ingest/", "trainers/": "wsdb/trainers/",
               "queries/": "wsdb/queries/", "migrations/": "wsdb/migrations/"}
    for name in listing.stdout.split():
        for folder, installed in folders.items():
            if name.startswith(folder) and name.endswith((".py", ".sql")):
                assert installed + name[len(folder):] in names, name
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True, capture_output=True,
    )
    db = tmp_path / "installed.duckdb"
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run(
        [sys.executable, "-c", "import wsdb, wsdb.warehouse.db as d; print(wsdb.__file__); print(d.init_database('duckdb:///%s'))" % db],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert str(target) in result.stdout and "created warehouse" in result.stdout
    cli = subprocess.run([sys.executable, "-m", "wsdb.cli", "arch", "show", "--space", "ws64", "--label", "434", "--json"],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert cli.returncode == 0 and "sep_conv" in cli.stdout, cli.stderr
