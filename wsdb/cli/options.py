"""Options every `wsdb` command spells the same way, and the settings of every command group."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from wsdb.base.errors import WsdbError

# Plain click help (no boxes): paragraphs wrapped to the terminal, examples kept as written
# (a \b line before them), flags shown as flags.
GROUP_SETTINGS = dict(rich_markup_mode=None, no_args_is_help=True,
                      context_settings={"max_content_width": 100, "help_option_names": ["-h", "--help"]})

DbOption = Annotated[
    Optional[str],
    typer.Option("--db", metavar="PATH|URL", show_default=False,
                 help="The warehouse: a DuckDB file or a URL such as postgresql+psycopg://user@host/db. "
                      "Default: $WSDB_URL, else ./wsdb.duckdb."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
CsvOption = Annotated[Optional[str], typer.Option("--csv", metavar="FILE", help="Write CSV to FILE (- for stdout).")]
ParquetOption = Annotated[Optional[str], typer.Option("--parquet", metavar="FILE", help="Write Parquet to FILE.")]
# The ground truth a command compares with: the search space's own unless these name another.
BenchmarkOption = Annotated[Optional[str], typer.Option(metavar="NAME", help="Ground-truth benchmark (default: the "
                                                        "space's own).")]
TruthDatasetOption = Annotated[Optional[str], typer.Option("--dataset", metavar="NAME", help="Ground-truth dataset "
                                                           "(default: the space's own).")]
EpochBudgetOption = Annotated[Optional[int], typer.Option(metavar="N", help="Ground-truth budget (default: the "
                                                          "space's own).")]
# One architecture on the command line (`wsdb arch show`, `wsdb train-standalone`, `wsdb submit standalone`).
SpaceOption = Annotated[Optional[str], typer.Option("--space", metavar="SPACE", help="nb101, nb201, ws64 or darts")]
MatrixOption = Annotated[Optional[str], typer.Option(metavar="MATRIX", help="nb101: the adjacency as JSON "
                                                     "[[0,1],[0,0]] or rows 01|00")]
OpsOption = Annotated[Optional[str], typer.Option(metavar="OPS", help="nb101: operations, comma-separated or JSON "
                                                  "(input,...,output)")]
ArchStrOption = Annotated[Optional[str], typer.Option("--arch-str", metavar="TEXT", help="nb201: "
                                                      "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|")]
IndexOption = Annotated[Optional[int], typer.Option(metavar="N", help="nb201: official index; ws64: 0..63")]
LabelOption = Annotated[Optional[str], typer.Option(metavar="DIGITS", help="ws64: three digits 111..444")]
GenotypeOption = Annotated[Optional[str], typer.Option(metavar="TEXT", help="darts: DARTS' printed "
                                                       "Genotype(normal=[...], normal_concat=..., reduce=[...], ...)")]
ParamOption = Annotated[Optional[list[str]], typer.Option(
    "--param", metavar="KEY=VALUE", help="A parameter of the analysis (repeatable). Names of super-nets, samples, "
    "sub-spaces, protocols, benchmarks and datasets are checked against the warehouse.")]


def key_values(items: Optional[list[str]], option: str) -> dict[str, str]:
    """A repeatable `--option key=value` as a dict (values as given)."""
    given = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise WsdbError(f"{option} takes key=value, got {item!r}")
        given[key.strip()] = value
    return given


def yaml_values(items: Optional[list[str]], option: str) -> dict:
    """`--option key=value`, each value read as YAML (numbers, true/false, lists)."""
    import yaml

    try:
        return {key: yaml.safe_load(value) if value else None for key, value in key_values(items, option).items()}
    except yaml.YAMLError as exc:
        raise WsdbError(f"{option}: cannot read a value ({' '.join(str(exc).split())[:200]})") from None


def positive_integers(text: str, option: str) -> str:
    """A comma-separated list of integers >= 1 (e.g. --top-k 1,10,20), checked and normalized."""
    try:
        numbers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < 1:
        raise WsdbError(f"{option} takes comma-separated whole numbers >= 1 such as 1,10,20, got {text!r}")
    return ",".join(map(str, numbers))


def seeds(text: str) -> list[int]:
    """'0-4' or '0,1,5'."""
    try:
        if "-" in text.strip("-"):
            first, last = text.split("-", 1)
            return list(range(int(first), int(last) + 1))
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise WsdbError(f"--seeds {text!r}: expected a range like 0-4 or a list like 0,1,5") from None
