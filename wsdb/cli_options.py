"""Options that every `wsdb` command spells the same way."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

DbOption = Annotated[
    Optional[str],
    typer.Option(
        "--db",
        help="Warehouse: a DuckDB file path or a SQLAlchemy URL (postgresql+psycopg://...). "
        "Default: $WSDB_URL, else ./wsdb.duckdb.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
CsvOption = Annotated[bool, typer.Option("--csv", help="Print CSV.")]
