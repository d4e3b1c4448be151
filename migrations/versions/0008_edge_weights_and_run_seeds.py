"""β of PC-DARTS' edge normalisation as rows; a trained super-net's three seeds.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

- edge_weights: the weight of each edge of a checkpoint's cell among the edges into its node
  (the edges into one node sum to 1; a node's only edge weighs 1). PC-DARTS learns it beside θ;
  under GAEA's exponentiated update it moves on its simplex like θ.
- supernets.seeds_json: the seeds of weight initialisation, architecture sampling (and its
  fixed order) and data order of a run, which Zhang et al. 2020 (Deeper Insights, Table 1)
  vary one at a time; NULL where one seed drove all three (older runs, imports): `seed`.
DuckDB-safe: one new table, one nullable column.
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
    op.add_column("supernets", sa.Column("seeds_json", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("supernets", "seeds_json")
    op.drop_table("edge_weights")
