"""β of PC-DARTS' edge normalisation, per checkpoint, as rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

- edge_weights: the weight of each edge of a checkpoint's cell among the edges into its node
  (the edges into one node sum to 1; a node's only edge weighs 1). PC-DARTS learns it beside θ;
  under GAEA's exponentiated update it moves on its simplex like θ.
DuckDB-safe: one new table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "edge_weights",
        sa.Column("checkpoint_id", sa.String(32), sa.ForeignKey("checkpoints.id"), primary_key=True),
        sa.Column("edge", sa.Integer(), primary_key=True),
        sa.Column("weight", sa.Double(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("edge_weights")
