"""Alembic migrations of the warehouse schema (shipped inside the package as wsdb.migrations)."""
