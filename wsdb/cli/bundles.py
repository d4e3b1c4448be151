"""`wsdb bundle export|import|show`: a study in one file that another lab imports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from wsdb.sharing import bundle

from wsdb.warehouse import db as database
from wsdb.cli.options import GROUP_SETTINGS, DbOption, JsonOption
from wsdb.analyses.output import emit, emit_record

bundle_app = typer.Typer(help="Share a study: bundles another warehouse imports.", **GROUP_SETTINGS)

BundleArgument = Annotated[Path, typer.Argument(metavar="BUNDLE", help="A bundle file (study.wsdb).")]


@bundle_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="The bundle to write (a zip file; never "
                                      "overwritten).")],
    supernet: Annotated[Optional[list[str]], typer.Option("--supernet", metavar="NAME|ID", help="A super-net "
                        "(repeatable): its checkpoints, proxy scores and the search runs guided by it.")] = None,
    sweep: Annotated[Optional[str], typer.Option(metavar="NAME", help="Every super-net of a sweep.")] = None,
    sample: Annotated[Optional[list[str]], typer.Option("--sample", metavar="NAME", help="An architecture sample "
                      "(repeatable).")] = None,
    search_run: Annotated[Optional[list[str]], typer.Option("--search-run", metavar="ID", help="A search run with "
                          "its trace (repeatable).")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every super-net, sample and search run.")] = False,
    with_ground_truth: Annotated[bool, typer.Option("--with-ground-truth", help="Also the ground truth of every "
                                                    "architecture the bundle names.")] = False,
    with_checkpoints: Annotated[bool, typer.Option("--with-checkpoints", help="Also the checkpoint files "
                                                   "(verified against their sha256).")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the selected rows, and every row they reference, to one bundle file.

    The bundle is a zip of Parquet tables and a manifest.json (format version, schema revision, wsdb version, the selection, row counts and the sha256 of every file, the provenance of each super-net). Architectures travel as canonical key and encoding, never as ids. Nothing is written when the selection matches nothing.

    \b
    Examples:
      wsdb bundle export --out one.wsdb --supernet to-share/baseline_ft_bn/full/0 --with-ground-truth
      wsdb bundle export --out sweep.wsdb --sweep subspaces --with-checkpoints
      wsdb bundle export --out all.wsdb --all --with-ground-truth
    """
    selection = bundle.Selection(supernet or [], sweep, sample or [], search_run or [], everything, with_ground_truth,
                                 with_checkpoints)
    manifest = bundle.export(database.resolve_url(db), out, selection)
    if as_json:
        emit_record(manifest, as_json=True)
        return
    rows = sum(f.get("rows", 0) for f in manifest["files"].values())
    typer.echo(f"wrote {out}: {len(manifest['supernets'])} super-nets, {rows} rows in {len(manifest['files'])} files")


@bundle_app.command("import")
def import_(
    path: BundleArgument,
    checkpoint_dir: Annotated[str, typer.Option(metavar="DIR|URI", help="Where bundled checkpoint files go "
                                                "(their rows then point there).")] = "checkpoints",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import a bundle into this warehouse (DuckDB or PostgreSQL), in one transaction.

    Every file is checked against its sha256 and the format version before anything is written; architectures are matched by canonical key, and a class the warehouse lacks is created from its encoding (re-canonicalised: a bundle whose key disagrees is refused). Rows the warehouse holds already are skipped, so a second import adds nothing.

    \b
    Example:
      wsdb bundle import study.wsdb --db mine.duckdb
    """
    added = bundle.import_bundle(database.resolve_url(db), path, checkpoint_dir)
    if as_json:
        emit_record(added, as_json=True)
        return
    emit([{"table": name, "rows_added": count} for name, count in added.items()], title=f"imported {path}")


@bundle_app.command("show")
def show(path: BundleArgument, as_json: JsonOption = False) -> None:
    """The manifest of a bundle, after checking every file against its sha256.

    \b
    Example:
      wsdb bundle show study.wsdb
    """
    manifest = bundle.show(path)
    if as_json:
        emit_record(manifest, as_json=True)
        return
    emit_record({k: v for k, v in manifest.items() if k not in ("files", "supernets")})
    print()
    emit([{"file": name, **facts} for name, facts in manifest["files"].items()], title="files")
    print()
    emit(manifest["supernets"], title="super-nets")
