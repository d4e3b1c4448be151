"""Sub-spaces of every kind: predicates, published constructions, seeded random and
best-by-ground-truth subsets, and user-given member lists.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

- subspaces gets kind, parent, parameters_json, num_cells, num_members, source, created_at;
  predicate_sql may be NULL (sub-spaces with listed members have none). The rows 0001
  stored become kind 'predicate'.
- subspace_members lists the members of every sub-space that is not a predicate.
- architecture_subspaces applies the predicates (read from the table, so this migration
  does not repeat them) and adds the listed members.
DuckDB-safe: nullable columns, a new table, the view dropped and recreated.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NEW_COLUMNS = (("kind", sa.String()), ("parent", sa.String()), ("parameters_json", sa.Text()),
               ("num_cells", sa.BigInteger()), ("num_members", sa.Integer()), ("source", sa.Text()),
               ("created_at", sa.DateTime()))


def _columns(table: str) -> set[str]:
    # information_schema, not sa.inspect: reflection through duckdb-engine is broken
    return {name for (name,) in op.get_bind().execute(sa.text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = :t"), {"t": table})}


def _predicate_view(with_members: bool) -> str:
    predicates = op.get_bind().execute(sa.text(
        "SELECT search_space, name, predicate_sql FROM subspaces WHERE predicate_sql IS NOT NULL "
        "ORDER BY search_space, name")).all()
    selects = [f"SELECT id AS architecture_id, search_space, '{name}' AS subspace "
               f"FROM architectures WHERE search_space = '{space}' AND ({predicate})"
               for space, name, predicate in predicates]
    if with_members:
        selects.append("SELECT architecture_id, search_space, subspace FROM subspace_members")
    return "CREATE VIEW architecture_subspaces AS\n" + "\nUNION ALL\n".join(selects)


def upgrade() -> None:
    present = _columns("subspaces")
    for name, kind in NEW_COLUMNS:
        if name not in present:  # a DuckDB warehouse downgraded to 0005 kept them
            op.add_column("subspaces", sa.Column(name, kind))
    op.alter_column("subspaces", "predicate_sql", existing_type=sa.Text(), nullable=True)
    op.execute("UPDATE subspaces SET kind = 'predicate' WHERE kind IS NULL")
    op.create_table(
        "subspace_members",
        sa.Column("search_space", sa.String(), primary_key=True),
        sa.Column("subspace", sa.String(), primary_key=True),
        sa.Column("architecture_id", sa.Integer(), sa.ForeignKey("architectures.id"), primary_key=True),
    )
    op.execute("DROP VIEW architecture_subspaces")
    op.execute(_predicate_view(with_members=True))


def downgrade() -> None:
    op.execute("DROP VIEW architecture_subspaces")
    op.drop_table("subspace_members")
    op.execute("DELETE FROM subspaces WHERE predicate_sql IS NULL")
    op.execute(_predicate_view(with_members=False))
    if op.get_bind().dialect.name != "duckdb":  # DuckDB keeps the columns; an upgrade finds them
        for name, _ in reversed(NEW_COLUMNS):
            op.drop_column("subspaces", name)
        op.alter_column("subspaces", "predicate_sql", existing_type=sa.Text(), nullable=False)
