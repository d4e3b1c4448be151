"""Search simulations: runs of random search, regularized evolution and weight-sharing-guided
search over the ground truth, with their trajectories.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Only new tables (DuckDB-friendly). search_traces is append-only and has no key index: one
row per (run_id, step), millions of rows written in bulk.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("algorithm", sa.String(), nullable=False),
        sa.Column("search_space", sa.String(), sa.ForeignKey("search_spaces.name"), nullable=False),
        sa.Column("subspace", sa.String()),
        sa.Column("supernet_id", sa.String(32), sa.ForeignKey("supernets.id")),
        sa.Column("protocol_id", sa.String()),
        sa.Column("sample_name", sa.String()),
        sa.Column("config_json", sa.Text(), nullable=False),
        sa.Column("seed", sa.Integer()),
        sa.Column("architectures_searched", sa.Integer(), nullable=False),
        sa.Column("best_test_accuracy", sa.Double(), nullable=False),
        sa.Column("queries", sa.Integer(), nullable=False),
        sa.Column("time_unit", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "search_traces",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("architecture_id", sa.Integer(), nullable=False),
        sa.Column("simulated_time", sa.Double(), nullable=False),
        sa.Column("validation_accuracy", sa.Double()),
        sa.Column("test_accuracy", sa.Double()),
        sa.Column("regret", sa.Double(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("search_traces")
    op.drop_table("search_runs")
