"""Per-image prediction arrays of an evaluation (HDF5 files outside the database).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

One new table (DuckDB-friendly): a file per (checkpoint, protocol, sample) holding, for
every scored architecture, the predicted class and the loss of each validation image;
referenced by URI with sha256 and size, like checkpoints.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prediction_files",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("checkpoint_id", sa.String(32), sa.ForeignKey("checkpoints.id"), nullable=False),
        sa.Column("protocol_id", sa.String(), sa.ForeignKey("evaluation_protocols.id"), nullable=False),
        sa.Column("sample_name", sa.String(), sa.ForeignKey("architecture_samples.name"), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("architectures", sa.Integer(), nullable=False),
        sa.Column("images", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("checkpoint_id", "protocol_id", "sample_name"),
    )


def downgrade() -> None:
    op.drop_table("prediction_files")
