"""Schema, migrations and the catalog on DuckDB and on a real PostgreSQL."""

import random
from collections import defaultdict

import duckdb
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from conftest import migrate
from wsdb.warehouse import db as database
from wsdb.warehouse.catalog import store_architectures
from wsdb.base.errors import DatabaseError
from wsdb.warehouse.populate import populate
from wsdb.warehouse.schema import VIEWS, Base
from wsdb.spaces import nb101

TABLES = {table.name for table in Base.metadata.sorted_tables}


def test_init_creates_tables_and_views_a_plain_duckdb_connection_lists(tmp_path):
    path = tmp_path / "w.duckdb"
    database.init_database(f"duckdb:///{path}")
    with duckdb.connect(str(path), read_only=True) as con:
        kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
    assert {name for name, kind in kinds.items() if kind == "BASE TABLE"} == TABLES | {"alembic_version"}
    assert {name for name, kind in kinds.items() if kind == "VIEW"} == set(VIEWS)


def test_init_is_idempotent_and_refuses_foreign_databases(any_url):
    assert "created" in database.init_database(any_url)
    assert "already initialized" in database.init_database(any_url)
    with database.warehouse(any_url) as engine, engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM search_spaces")).scalar() == 4  # nb101, nb201, ws64, darts


def test_a_database_with_other_tables_is_not_taken_over(tmp_path):
    path = tmp_path / "other.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE mine (x INT)")
    with pytest.raises(DatabaseError, match="not a wsdb warehouse"):
        database.init_database(f"duckdb:///{path}")


def _set_revision(url: str, revision: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_an_out_of_date_warehouse_is_never_migrated_silently(duckdb_url):
    database.init_database(duckdb_url)
    _set_revision(duckdb_url, "0003")
    with pytest.raises(DatabaseError, match=r"holds schema 0003.*run `wsdb db upgrade`"):
        database.open_engine(duckdb_url)
    with pytest.raises(DatabaseError, match="wsdb db upgrade"):
        database.init_database(duckdb_url)


def test_a_warehouse_of_a_newer_wsdb_is_refused_with_the_right_advice(duckdb_url):
    database.init_database(duckdb_url)
    _set_revision(duckdb_url, "0099_later")
    for attempt in (database.open_engine, database.init_database, database.upgrade_database):
        with pytest.raises(DatabaseError, match=r"written by a newer wsdb \(schema 0099_later.*upgrade wsdb"):
            attempt(duckdb_url)
    status = database.status(duckdb_url)
    assert status["schema"] == "0099_later" and "newer" in status["schema_state"]


def test_missing_and_foreign_databases_get_clear_errors(tmp_path):
    with pytest.raises(DatabaseError, match="no warehouse at .*run `wsdb init`"):
        database.open_engine(f"duckdb:///{tmp_path / 'absent.duckdb'}")
    with pytest.raises(DatabaseError, match="folder .* does not exist"):
        database.init_database(f"duckdb:///{tmp_path / 'no' / 'such' / 'dir.duckdb'}")
    assert not (tmp_path / "no").exists()


def test_url_resolution(monkeypatch):
    monkeypatch.delenv("WSDB_URL", raising=False)
    assert database.resolve_url(None) == "duckdb:///wsdb.duckdb"
    assert database.resolve_url("x/y.duckdb") == "duckdb:///x/y.duckdb"
    monkeypatch.setenv("WSDB_URL", "postgresql+psycopg://u@h/db")
    assert database.resolve_url(None) == "postgresql+psycopg://u@h/db"
    assert database.resolve_url("local.duckdb") == "duckdb:///local.duckdb"


@pytest.mark.postgres
def test_migrations_create_exactly_the_models_on_postgresql(postgres_url):
    database.init_database(postgres_url)
    engine = sa.create_engine(postgres_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_downgrade_to_base_and_upgrade_again(any_url):
    database.init_database(any_url)
    migrate(any_url, "downgrade", "base")
    engine = database.create_engine(any_url)
    with engine.connect() as connection:
        assert set(sa.inspect(connection).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    assert "upgraded" not in database.init_database(any_url)  # a fresh creation again
    with database.warehouse(any_url):
        pass


def test_populate_small_spaces_is_idempotent(any_url):
    database.init_database(any_url)
    with database.warehouse(any_url) as engine:
        with engine.begin() as connection:
            assert populate(connection, "nb201") == (6466, 31250)
            assert populate(connection, "ws64") == (64, 128)
        with engine.begin() as connection:
            assert populate(connection, "nb201") == (0, 0)
        with engine.connect() as connection:
            index_class = connection.execute(
                sa.text(
                    "SELECT a.canonical_key FROM architecture_encodings e JOIN architectures a "
                    "ON a.id = e.architecture_id WHERE e.encoding_kind = 'nb201-index' AND e.encoding = '284'"
                )
            ).scalar_one()
            functional = connection.execute(
                sa.text("SELECT COUNT(DISTINCT functional_key) FROM architectures WHERE search_space = 'nb201'")
            ).scalar_one()
    from wsdb.spaces import nb201

    assert index_class == nb201.nats_key(nb201.parse_arch_str(nb201.arch_str_of_index(284)))
    assert functional == 5390


def test_subspace_view_agrees_with_the_python_definitions(any_url, shared_data):
    rows = pq.read_table(shared_data / "nb101/archs_151644.parquet").to_pylist()
    archs = [
        nb101.canonicalize(nb101.parse_matrix(r["adjacency"]), r["operations"].split(","), r["trainable_parameters"])
        for r in random.Random(1).sample(rows, 1500)
    ]
    database.init_database(any_url)
    with database.warehouse(any_url) as engine:
        with engine.begin() as connection:
            ids, new, _ = store_architectures(connection, archs)
            assert new == len(archs)
            populate(connection, "ws64")
        with engine.connect() as connection:
            stored = defaultdict(set)
            for arch_id, subspace in connection.execute(
                sa.text("SELECT architecture_id, subspace FROM architecture_subspaces WHERE search_space = 'nb101'")
            ):
                stored[arch_id].add(subspace)
            ws64_full = connection.execute(
                sa.text("SELECT COUNT(*) FROM architecture_subspaces WHERE search_space = 'ws64' AND subspace = 'FULL'")
            ).scalar_one()
            params = {key: count for key, count in connection.execute(
                sa.text("SELECT canonical_key, trainable_parameters FROM architectures"))}
    assert {ids[a.canonical_key]: set(a.subspaces) for a in archs} == dict(stored)
    assert ws64_full == 64
    assert all(params[a.canonical_key] == a.trainable_parameters for a in archs)


def test_storing_the_same_architectures_twice_adds_nothing(any_url):
    database.init_database(any_url)
    cell = nb101.canonicalize([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", "conv3x3-bn-relu", "output"])
    # the same class with a dangling maxpool vertex that pruning removes
    unpruned_text = nb101.encode(*nb101.validate([[0, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]],
                                                 ["input", "conv3x3-bn-relu", "maxpool3x3", "output"]))
    with database.warehouse(any_url) as engine:
        for expected in ((1, 1), (0, 0)):
            with engine.begin() as connection:
                _, new_archs, new_encodings = store_architectures(
                    connection, [cell], [("nb101-cell", unpruned_text, cell.canonical_key)]
                )
            assert (new_archs, new_encodings) == expected


def test_ground_truth_and_proxy_views(any_url):
    """Two repeats of one architecture averaged apart from a published mean; a proxy score
    joined once to its space's own ground truth, whatever else the warehouse holds."""
    database.init_database(any_url)
    with database.warehouse(any_url) as engine:
        with engine.begin() as connection:
            populate(connection, "ws64")
            arch_id = connection.execute(
                sa.text("SELECT id FROM architectures WHERE search_space = 'ws64' AND canonical_key = '434'")
            ).scalar_one()
            for benchmark, repeat, accuracy in (("ws64-paper", 0, 0.80), ("ws64-paper", 1, 0.90),
                                                ("ws64-paper", -1, 0.70), ("ws64-repository", -1, 0.60)):
                connection.execute(
                    sa.text(
                        "INSERT INTO ground_truth_results (architecture_id, benchmark, dataset, epoch_budget, "
                        "benchmark_arch_id, repeat, epoch, evaluation_point, validation_accuracy, test_accuracy) "
                        "VALUES (:a, :b, 'cifar10', 200, '434', :r, 200, 'final', :v, :v)"
                    ),
                    {"a": arch_id, "b": benchmark, "r": repeat, "v": accuracy},
                )
            connection.execute(
                sa.text(
                    "INSERT INTO supernets (id, search_space, config_json, status, origin, created_at) "
                    "VALUES ('s1', 'ws64', '{}', 'imported', 'imported', CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO checkpoints (id, supernet_id, label, epoch, created_at) "
                    "VALUES ('c1', 's1', 'final', 200, CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO proxy_scores (checkpoint_id, architecture_id, protocol_id, metric, value, evaluated_at) "
                    "VALUES ('c1', :a, 'bns-ft:4', 'validation_accuracy', 0.5, CURRENT_TIMESTAMP)"
                ),
                {"a": arch_id},
            )
        with engine.connect() as connection:
            means = connection.execute(sa.text(
                "SELECT benchmark, kind, num_repeats, num_cells, validation_accuracy FROM ground_truth_mean "
                "ORDER BY benchmark, kind")).all()
            final = connection.execute(sa.text(
                "SELECT benchmark, kind, validation_accuracy FROM ground_truth_final ORDER BY benchmark")).all()
            joined = connection.execute(
                sa.text("SELECT supernet_id, proxy_value, benchmark, truth_kind, truth_validation_accuracy "
                        "FROM proxy_vs_truth")
            ).one()
    assert [tuple(m[:4]) for m in means] == [("ws64-paper", "published-mean", 1, 1), ("ws64-paper", "runs", 2, 1),
                                             ("ws64-repository", "published-mean", 1, 1)]
    assert means[1][4] == pytest.approx(0.85)
    assert [tuple(f[:2]) for f in final] == [("ws64-paper", "runs"), ("ws64-repository", "published-mean")]
    assert tuple(joined[:4]) == ("s1", 0.5, "ws64-paper", "runs") and joined[4] == pytest.approx(0.85)


def test_foreign_keys_are_enforced(any_url):
    database.init_database(any_url)
    with database.warehouse(any_url) as engine:
        with pytest.raises(sa.exc.DBAPIError):
            with engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "INSERT INTO architecture_encodings (encoding_kind, encoding, architecture_id) "
                        "VALUES ('ws64-label', '111', 999999)"
                    )
                )


def test_an_old_warehouse_is_refused_until_wsdb_db_upgrade(any_url):
    """A warehouse made at schema 0001 (before search simulations) and the real 0002 migration."""
    from alembic import command

    engine = database.create_engine(any_url)
    config = database._alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    engine.dispose()
    with pytest.raises(DatabaseError, match=r"holds schema 0001.*run `wsdb db upgrade`"):
        database.open_engine(any_url)
    assert "upgraded" in database.upgrade_database(any_url)
    with database.warehouse(any_url) as engine, engine.connect() as connection:
        assert "search_runs" in sa.inspect(connection).get_table_names()
    assert "up to date" in database.upgrade_database(any_url)
