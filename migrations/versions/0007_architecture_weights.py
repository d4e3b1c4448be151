"""Architecture weights of differentiable weight sharing, per checkpoint, as rows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

- architecture_weights: θ of a checkpoint (edge, operation, weight; each edge sums to 1), so
  SQL can follow θ over training (entropy, sparsity, the derived architecture).
- derived_architectures: the architecture a checkpoint's θ derives (the highest-weighted
  operation per edge; ties to the operation listed first in the space's order) and the
  super-net's cumulative training seconds when it was saved (the time axis of its search run).
DuckDB-safe: two new tables.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "architecture_weights",
        sa.Column("checkpoint_id", sa.String(32), sa.ForeignKey("checkpoints.id"), primary_key=True),
        sa.Column("edge", sa.Integer(), primary_key=True),
        sa.Column("operation", sa.String(), primary_key=True),
        sa.Column("weight", sa.Double(), nullable=False),
    )
    op.create_table(
        "derived_architectures",
        sa.Column("checkpoint_id", sa.String(32), sa.ForeignKey("checkpoints.id"), primary_key=True),
        sa.Column("architecture_id", sa.Integer(), sa.ForeignKey("architectures.id"), nullable=False),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("training_seconds", sa.Double()),
    )


def downgrade() -> None:
    op.drop_table("derived_architectures")
    op.drop_table("architecture_weights")
