"""β of PC-DARTS' edge normalisation as rows; a trained super-net's three seeds; the raw
cells of sub-spaces drawn over cells.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

- edge_weights: the weight of each edge of a checkpoint's cell among the edges into its node
  (the edges into one node sum to 1; a node's only edge weighs 1). PC-DARTS learns it beside θ;
  under GAEA's exponentiated update it moves on its simplex like θ.
- run_seeds: the seeds of weight initialisation, architecture sampling (and its fixed order)
  and data order of a super-net trained here, which Zhang et al. 2020 (Deeper Insights, Table 1)
  vary one at a time; a super-net without a row (older runs, imports) had `seed` drive all three.
- subspace_cells: the cells a random-cells/... sub-space drew (Zhang, Zhang, Yang 2020 down-scale
  cells, not classes, and train on them without deduplication).
DuckDB-safe: new tables only (a column added to supernets could not be dropped again: it is
referenced by foreign keys).
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
    op.create_table(
        "run_seeds",
        sa.Column("supernet_id", sa.String(32), sa.ForeignKey("supernets.id"), primary_key=True),
        sa.Column("init_seed", sa.BigInteger(), nullable=False),
        sa.Column("sampling_seed", sa.BigInteger(), nullable=False),
        sa.Column("data_seed", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "subspace_cells",
        sa.Column("search_space", sa.String(), primary_key=True),
        sa.Column("subspace", sa.String(), primary_key=True),
        sa.Column("encoding", sa.String(), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("subspace_cells")
    op.drop_table("run_seeds")
    op.drop_table("edge_weights")
