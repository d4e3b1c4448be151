"""The job queue for many workers: sweeps, dependencies and one row per attempt.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

DuckDB-friendly: nullable columns added to jobs, one new table. No index on jobs.status on
purpose: DuckDB refuses to update an indexed column of a row that a foreign key references
(job_attempts references jobs), and a queue of thousands of rows scans in microseconds.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("sweep", sa.Text()))
    op.add_column("jobs", sa.Column("name", sa.Text()))
    op.add_column("jobs", sa.Column("depends_on", sa.String(32)))
    op.create_table(
        "job_attempts",
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id"), primary_key=True),
        sa.Column("attempt", sa.Integer(), primary_key=True),
        sa.Column("worker", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("device", sa.Text()),
        sa.Column("cluster_job", sa.Text()),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime()),
    )


def downgrade() -> None:
    op.drop_table("job_attempts")
    for column in ("depends_on", "name", "sweep"):
        op.drop_column("jobs", column)
