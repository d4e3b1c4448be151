"""The DARTS CNN search space; stand-alone trainings run by wsdb itself.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

- search_spaces gets `darts` (Liu, Simonyan, Yang 2019): never enumerated (num_architectures
  NULL), its classes stored as they first appear; its default ground truth is wsdb's own
  stand-alone runs (benchmark `wsdb-standalone`) on CIFAR-10 under DARTS' 600-epoch recipe.
  Its FULL sub-space is the predicate TRUE; architecture_subspaces is rebuilt to include it.
- standalone_runs: one stand-alone training of one architecture under a named recipe (the
  recipe's settings as JSON, seed, code version, host, device, status, the final checkpoint
  by URI + sha256). Its per-epoch results are ground_truth_results rows of benchmark
  `wsdb-standalone` (repeat = the run's seed), so analyses join them like any benchmark.
DuckDB-safe: a row (kept by a DuckDB downgrade), a new table, the view dropped and recreated.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

DARTS = {"name": "darts",
         "description": "DARTS CNN cells (Liu, Simonyan, Yang 2019): a normal and a reduction cell, 4 nodes of 2 "
                        "inputs each, 7 operations, CIFAR-10",
         "canonical_key_kind": "md5 of the canonical Genotype(...) text (node inputs unordered, nodes relabelled)",
         "num_architectures": None, "default_benchmark": "wsdb-standalone", "default_dataset": "cifar10",
         "default_epoch_budget": 600}


def _recreate_subspace_view() -> None:
    """architecture_subspaces from the predicates stored now, plus the listed members."""
    predicates = op.get_bind().execute(sa.text(
        "SELECT search_space, name, predicate_sql FROM subspaces WHERE predicate_sql IS NOT NULL "
        "ORDER BY search_space, name")).all()
    selects = [f"SELECT id AS architecture_id, search_space, '{name}' AS subspace "
               f"FROM architectures WHERE search_space = '{space}' AND ({predicate})"
               for space, name, predicate in predicates]
    selects.append("SELECT architecture_id, search_space, subspace FROM subspace_members")
    op.execute("DROP VIEW architecture_subspaces")
    op.execute("CREATE VIEW architecture_subspaces AS\n" + "\nUNION ALL\n".join(selects))


def upgrade() -> None:
    present = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM search_spaces WHERE name = 'darts'")).scalar()
    if not present:  # a DuckDB warehouse downgraded below 0009 kept the row
        op.execute(sa.text(
            "INSERT INTO search_spaces (name, description, canonical_key_kind, num_architectures, default_benchmark, "
            "default_dataset, default_epoch_budget) VALUES (:name, :description, :canonical_key_kind, "
            ":num_architectures, :default_benchmark, :default_dataset, :default_epoch_budget)").bindparams(**DARTS))
    op.execute(sa.text(
        "INSERT INTO subspaces (search_space, name, description, predicate_sql, kind) "
        "VALUES ('darts', 'FULL', 'every genotype of the DARTS space (classes stored as they appear)', 'TRUE', "
        "'predicate')"))
    _recreate_subspace_view()
    op.create_table(
        "standalone_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("architecture_id", sa.Integer(), sa.ForeignKey("architectures.id"), nullable=False),
        sa.Column("search_space", sa.String(), nullable=False),
        sa.Column("encoding", sa.Text(), nullable=False),
        sa.Column("recipe", sa.String(), nullable=False),
        sa.Column("recipe_json", sa.Text(), nullable=False),
        sa.Column("dataset", sa.String(), nullable=False),
        sa.Column("epochs", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("trainable_parameters", sa.BigInteger()),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("code_version", sa.Text()),
        sa.Column("host", sa.Text()),
        sa.Column("device", sa.Text()),
        sa.Column("data_dir", sa.Text()),
        sa.Column("training_seconds", sa.Double()),
        sa.Column("checkpoint_uri", sa.Text()),
        sa.Column("checkpoint_sha256", sa.String(64)),
        sa.Column("checkpoint_size_bytes", sa.BigInteger()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime()),
    )


def downgrade() -> None:
    held = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM architectures WHERE search_space = 'darts'")).scalar()
    if held:
        raise RuntimeError(f"the warehouse holds {held} DARTS architectures: downgrading below 0009 would orphan them")
    op.drop_table("standalone_runs")
    op.execute("DELETE FROM subspaces WHERE search_space = 'darts'")
    _recreate_subspace_view()
    if op.get_bind().dialect.name != "duckdb":  # DuckDB refuses to delete a row a deleted row referenced
        op.execute("DELETE FROM search_spaces WHERE name = 'darts'")
