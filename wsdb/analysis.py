"""Running analyses: SQL files with a header, parameters bound (never spliced), on DuckDB.

An analysis is a .sql file in queries/ (or any path) whose leading comment says what it
computes, its parameters and its output columns:

    -- Spearman's rho between proxy scores and mean ground truth, per checkpoint.
    --
    -- parameters:
    --   metric = 'validation_accuracy'   proxy metric
    --   epoch_budget = 108               ground-truth budget
    -- columns:
    --   supernet_id   the super-net
    SELECT ... WHERE metric = $metric AND epoch_budget = $epoch_budget

Parameters are DuckDB named parameters ($name); a default of NULL makes a parameter optional
in the SQL's own sense (`$x IS NULL OR ...`), and a parameter without default is required.
`-- uses: other` (like dbt's ref) runs the analysis `other` first, with the parameters the two
share, and makes its result a table named `other` for this one.
Analyses run on DuckDB, the analysis engine: a PostgreSQL warehouse is copied to a DuckDB file
first (issue: `wsdb pull`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from wsdb.errors import WsdbError

_PARAMETER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:=\s*('(?:[^']|'')*'|[^\s]+))?\s*(.*)$")


@dataclass
class Parameter:
    name: str
    default: object = None
    required: bool = True
    description: str = ""


@dataclass
class Analysis:
    name: str
    path: str
    summary: str
    sql: str
    parameters: dict[str, Parameter] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    uses: tuple[str, ...] = ()

    def all_parameters(self) -> dict[str, Parameter]:
        """Its own parameters and those of the analyses it uses."""
        merged = {}
        for name in self.uses:
            merged.update(load(name).all_parameters())
        merged.update(self.parameters)
        return merged

    def bind(self, given: dict[str, str]) -> dict[str, object]:
        """Values of all parameters (its own and its dependencies') from `--param k=v`
        strings, typed like the defaults."""
        parameters = self.all_parameters()
        unknown = set(given) - set(parameters)
        if unknown:
            raise WsdbError(
                f"analysis {self.name} has no parameter {', '.join(sorted(unknown))}; "
                f"it takes {', '.join(parameters) or 'none'}"
            )
        values = {}
        for name, parameter in parameters.items():
            if name in given:
                values[name] = _typed(given[name], parameter.default, name)
            elif parameter.required:
                raise WsdbError(f"analysis {self.name} needs --param {name}=...")
            else:
                values[name] = parameter.default
        return values


def _literal(text: str | None):
    """A header default: 'string', number, TRUE/FALSE or NULL."""
    if text is None:
        return None, True
    if text.upper() == "NULL":
        return None, False
    if text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE", False
    if text.startswith("'"):
        return text[1:-1].replace("''", "'"), False
    try:
        return ast.literal_eval(text), False
    except (ValueError, SyntaxError):
        raise WsdbError(f"cannot read parameter default {text!r}") from None


def _typed(text: str, default, name: str):
    if isinstance(default, bool):
        return text.lower() in ("1", "true", "yes")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise WsdbError(f"--param {name} takes an integer, got {text!r}") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise WsdbError(f"--param {name} takes a number, got {text!r}") from None
    return text


def parse(text: str, name: str, path: str) -> Analysis:
    header, body = [], []
    for line in text.splitlines():
        if not body and line.startswith("--"):
            header.append(line[3:] if line.startswith("-- ") else line[2:])  # keep indentation
        else:
            body.append(line)
    summary_lines, parameters, columns, section, uses = [], {}, {}, None, ()
    parameter_indent = 0
    for line in header:
        lowered = line.strip().lower()
        if lowered.startswith("uses:"):
            uses = tuple(n.strip() for n in line.strip()[5:].split(",") if n.strip())
            continue
        if lowered in ("parameters:", "columns:"):
            section = lowered[:-1]
            continue
        if section == "parameters" and line.strip():
            indent = len(line) - len(line.lstrip())
            if parameters and indent > parameter_indent:  # a continued description
                last = parameters[next(reversed(parameters))]
                last.description = f"{last.description} {line.strip()}"
                continue
            match = _PARAMETER.match(line)
            if not match:
                raise WsdbError(f"{path}: cannot read parameter line {line!r}")
            default, required = _literal(match.group(2))
            parameters[match.group(1)] = Parameter(match.group(1), default, required, match.group(3).strip())
            parameter_indent = indent
        elif section == "columns" and line.strip():
            column, _, description = line.strip().partition(" ")
            columns[column] = description.strip()
        elif section is None:
            summary_lines.append(line.strip())
    summary = " ".join(s for s in summary_lines if s).strip()
    if not summary:
        raise WsdbError(f"{path}: an analysis starts with a comment saying what it computes")
    return Analysis(name, path, summary, "\n".join(body).strip().rstrip(";"), parameters, columns, uses)


def shipped() -> dict[str, Analysis]:
    """The analyses in queries/ (shipped as wsdb.queries)."""
    found = {}
    for entry in sorted(resources.files("wsdb.queries").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            name = entry.name[:-4]
            found[name] = parse(entry.read_text(), name, f"queries/{entry.name}")
    return found


def load(name_or_path: str) -> Analysis:
    if name_or_path.endswith(".sql"):
        path = Path(name_or_path)
        if not path.is_file():
            raise WsdbError(f"{path}: no such SQL file")
        return parse(path.read_text(), path.stem, str(path))
    analyses = shipped()
    if name_or_path not in analyses:
        raise WsdbError(f"no analysis {name_or_path!r}; `wsdb query --list` shows {', '.join(analyses)}")
    return analyses[name_or_path]


def execute(con, item: Analysis, values: dict[str, object]):
    """Run `item` (after the analyses it uses) with bound `values`; returns an Arrow table."""
    from wsdb import duck

    for name in item.uses:
        used = load(name)
        table = execute(con, used, {k: v for k, v in values.items() if k in used.all_parameters()})
        con.register(name, table)
    own = {k: v for k, v in values.items() if k in item.parameters}
    return duck.run(con, item.sql, own)


def run(con, name_or_path: str, given: dict[str, str] | None = None):
    """Load an analysis, bind `--param`-style values and execute it; an Arrow table."""
    item = load(name_or_path)
    return execute(con, item, item.bind(given or {}))
