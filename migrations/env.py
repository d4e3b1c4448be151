"""Alembic environment for wsdb: run by `wsdb init` and `wsdb db upgrade`.

wsdb.warehouse.db passes an open connection in `config.attributes["connection"]`; running `alembic`
by hand with `-x url=...` also works.
"""

from alembic import context
from sqlalchemy import create_engine

import wsdb.warehouse.db  # noqa: F401  (registers Alembic's DuckDB implementation)


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context.configure(connection=conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("wsdb migrations run online only (use `wsdb db upgrade`)")
run_migrations()
