"""Options that every `wsdb` command spells the same way."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from wsdb.errors import WsdbError

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


def key_values(items: Optional[list[str]], option: str) -> dict[str, str]:
    """A repeatable `--option key=value` as a dict (values as given)."""
    given = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise WsdbError(f"{option} takes key=value, got {item!r}")
        given[key.strip()] = value
    return given


def positive_integers(text: str, option: str) -> str:
    """A comma-separated list of integers >= 1 (e.g. --top-k 1,10,20), checked and normalized."""
    try:
        numbers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < 1:
        raise WsdbError(f"{option} takes comma-separated whole numbers >= 1 such as 1,10,20, got {text!r}")
    return ",".join(map(str, numbers))
