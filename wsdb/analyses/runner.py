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

from wsdb.base import files

from wsdb.warehouse import lookup
from wsdb.base.errors import WsdbError

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
    parameter_indent = column_indent = 0
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
            indent = len(line) - len(line.lstrip())
            if columns and indent > column_indent:  # a continued description
                last = next(reversed(columns))
                columns[last] = f"{columns[last]} {line.strip()}"
                continue
            column, _, description = line.strip().partition(" ")
            columns[column] = description.strip()
            column_indent = indent
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
        if not path.exists():
            raise WsdbError(f"{path}: no such SQL file")
        files.regular_input(path, "SQL")
        files.protect(path)  # an output of the query never overwrites it
        return parse(path.read_text(), path.stem, str(path))
    analyses = shipped()
    if name_or_path not in analyses:
        raise WsdbError(f"no analysis {name_or_path!r}; `wsdb query --list` shows {', '.join(analyses)}")
    return analyses[name_or_path]


def execute(con, item: Analysis, values: dict[str, object]):
    """Run `item` (after the analyses it uses) with bound `values`; returns an Arrow table."""
    from wsdb.analyses import duck

    for name in item.uses:
        used = load(name)
        table = execute(con, used, {k: v for k, v in values.items() if k in used.all_parameters()})
        con.register(name, table)
    own = {k: v for k, v in values.items() if k in item.parameters}
    return duck.run(con, item.sql, own)


def bound(con, item: Analysis, given: dict[str, str] | None = None) -> dict[str, object]:
    """The values of all of `item`'s parameters from `--param`-style strings, the names among
    them resolved (and checked) against the warehouse."""
    return lookup.resolve_parameters(con, item.bind(given or {}))


def run(con, name_or_path: str, given: dict[str, str] | None = None):
    """Load an analysis, bind and resolve its parameters and execute it; an Arrow table."""
    item = load(name_or_path)
    return execute(con, item, bound(con, item, given))


@dataclass
class Result:
    analysis: Analysis
    table: object  # pyarrow.Table
    notes: list[str]  # why nothing matched, or what the numbers rest on; for stderr


def query(url: str, name_or_path: str, given: dict[str, str] | None = None) -> Result:
    """Run an analysis on a warehouse (read-only, sandboxed) with every naming parameter
    checked; when nothing matches, the notes say why."""
    from wsdb.analyses import duck

    item = load(name_or_path)
    with duck.connect(url) as con:
        values = bound(con, item, given)
        table = execute(con, item, values)
        notes = [explain_empty(con, item, values)] if table.num_rows == 0 else caveats(item, table, values)
    return Result(item, table, notes)


def catalogue() -> list[dict]:
    """The shipped analyses with what they compute and their parameters (`wsdb query --list`)."""
    return [
        {"analysis": a.name, "computes": a.summary,
         "parameters": ", ".join(f"{p.name}={'(required)' if p.required else repr(p.default)}"
                                 for p in a.all_parameters().values())}
        for a in shipped().values()
    ]


def _count(con, sql: str, params: dict) -> int:
    return lookup.rows(con, sql, params)[0][0]


def explain_empty(con, item: Analysis, values: dict) -> str:
    """Why an analysis returned no rows, from the first of its inputs that is missing."""
    parameters = item.all_parameters()
    shown = ", ".join(f"{k}={v}" for k, v in values.items() if v is not None and k in parameters)
    if not {"metric", "protocol", "supernet"}.isdisjoint(parameters):
        filters = {k: values.get(k) for k in ("supernet", "protocol", "metric")}
        scored = _count(con, "SELECT COUNT(*) FROM proxy_scores p JOIN checkpoints c ON c.id = p.checkpoint_id "
                             "WHERE (:supernet IS NULL OR c.supernet_id = :supernet) "
                             "AND (:protocol IS NULL OR p.protocol_id = :protocol) "
                             "AND (:metric IS NULL OR p.metric = :metric)", filters)
        if scored == 0:
            have = lookup.rows(con, "SELECT DISTINCT p.protocol_id || ' ' || p.metric FROM proxy_scores p "
                                    "JOIN checkpoints c ON c.id = p.checkpoint_id "
                                    "WHERE (:supernet IS NULL OR c.supernet_id = :supernet) ORDER BY 1",
                               {"supernet": filters["supernet"]})
            whose = f"super-net {filters['supernet'][:12]}" if filters["supernet"] else "the warehouse"
            if not have:
                return (f"no proxy scores in {whose}: score architectures with `wsdb evaluate`, or ingest published "
                        "super-nets (`wsdb ingest to-share`, `wsdb ingest ws64-trajectory`)")
            wanted = " ".join(f"{k} {v}" for k, v in filters.items() if v and k != "supernet")
            return f"no proxy scores with {wanted} in {whose}; it has: {', '.join(h for (h,) in have)}"
    if not {"dataset", "epoch_budget", "benchmark"}.isdisjoint(parameters):
        missing = lookup.rows(con, """
            SELECT DISTINCT a.search_space, COALESCE(:benchmark, s.default_benchmark),
                   COALESCE(:dataset, s.default_dataset), COALESCE(:epoch_budget, s.default_epoch_budget)
            FROM proxy_scores p JOIN architectures a ON a.id = p.architecture_id
            JOIN search_spaces s ON s.name = a.search_space
            WHERE NOT EXISTS (SELECT 1 FROM ground_truth_results g JOIN architectures b ON b.id = g.architecture_id
                              WHERE b.search_space = a.search_space
                                AND g.benchmark = COALESCE(:benchmark, s.default_benchmark)
                                AND g.dataset = COALESCE(:dataset, s.default_dataset)
                                AND g.epoch_budget = COALESCE(:epoch_budget, s.default_epoch_budget))
            ORDER BY 1""", {k: values.get(k) for k in ("benchmark", "dataset", "epoch_budget")})
        if missing:
            space, benchmark, dataset, budget = missing[0]
            held = lookup.rows(con, "SELECT DISTINCT g.benchmark || ' ' || g.dataset || ' ' || "
                                    "CAST(g.epoch_budget AS VARCHAR) FROM ground_truth_results g "
                                    "JOIN architectures a ON a.id = g.architecture_id WHERE a.search_space = :s "
                                    "ORDER BY 1", {"s": space})
            return (f"no {benchmark} ground truth on {dataset} at {budget} epochs for {space}; "
                    + (f"the warehouse holds {', '.join(h for (h,) in held)} (--param benchmark=, dataset=, "
                       "epoch_budget=)" if held else f"ingest {space}'s benchmark first"))
    if "search_space" in parameters and _count(
            con, "SELECT COUNT(*) FROM search_runs WHERE :s IS NULL OR search_space = :s",
            {"s": values.get("search_space")}) == 0:
        space = values.get("search_space")
        return f"no simulations{' of ' + space if space else ''} stored: run `wsdb simulate` first"
    return f"{item.name} matched nothing" + (f" for {shown}" if shown else " in this warehouse")


def caveats(item: Analysis, table, values: dict | None = None) -> list[str]:
    """What rows that did come back rest on, when it is less than asked for."""
    notes = []
    if "pairs_left_out" in table.column_names and "min_common" in item.all_parameters():
        thin = [row for row in table.to_pylist() if row["pairs_left_out"]]
        if thin:
            minimum = (values or {}).get("min_common", item.all_parameters()["min_common"].default)
            left = sum(row["pairs_left_out"] for row in thin)
            empty = sum(1 for row in thin if not row["pairs"])
            notes.append(f"{left} pair(s) of super-nets share fewer than {minimum} common architectures and are left "
                         f"out{f'; {empty} configuration(s) have no pair left (s_tau empty)' if empty else ''}: score "
                         "the same architectures with each super-net (`wsdb evaluate --n N --seed S`), or lower "
                         "--param min_common")
    if "checkpoints" in table.column_names and "last_k" in item.all_parameters():
        thin = [row for row in table.to_pylist() if row["checkpoints"] < 2]
        if thin:
            names = ", ".join(str(row.get("supernet_name") or row["supernet_id"])[:40] for row in thin[:5])
            notes.append(f"{len(thin)} super-net(s) have a single checkpoint, so no spread over checkpoints "
                         f"(gt_tau_std is empty): {names}")
    return notes
