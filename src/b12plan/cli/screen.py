"""The population commands: `screen` (findings over many people) and `synth` (a synthetic population).

Thin: each parses its options, calls `b12plan.screening`, and prints counts. Errors go through `main._guard`
(`field: problem`, exit 2). Nothing printed names a person: the people are in the output files only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from b12plan.errors import FieldProblem, UserError

if TYPE_CHECKING:
    from b12plan.screening.service import ScreenResult

__all__ = ["register"]

T = TypeVar("T")
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)
ENGINES = ("duckdb", "postgres", "spark")


def _guard(fn: Callable[[], T]) -> T:
    from b12plan.cli.main import _guard as guard  # main imports this module: look it up when called

    return guard(fn)


def _date(text: str | None, option: str) -> dt.date:
    if text is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError([FieldProblem(option, f"{text!r} is not a date (YYYY-MM-DD)")]) from None


class _Bar:
    """A rich progress bar for `screening.service.Progress`: one line, the stage name and its fraction."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID = progress.add_task("starting", total=1.0)

    def stage(self, label: str) -> None:
        self.progress.update(self.task, description=label, completed=0.0)

    def advance(self, fraction: float) -> None:
        self.progress.update(self.task, completed=fraction)


def _print_result(result: ScreenResult) -> None:
    table = Table("finding", "people", "per 1000", title=f"{result.patients:,} people screened")
    for code, people in result.findings.items():
        per = 1000 * people / result.patients if result.patients else 0.0
        table.add_row(code, f"{people:,}", f"{per:.1f}")
    out.print(table)
    statuses = ", ".join(f"{k} {v:,}" for k, v in result.status.items())
    out.print(f"status: {statuses}", markup=False)
    if result.rejected:
        out.print(f"{result.rejected:,} results not read (see rejected.csv)", markup=False)
    out.print(f"written to {result.out} in {result.seconds:.1f} s (report.html)", markup=False)


def register(app: typer.Typer) -> None:
    """Add `screen` and `synth` to the `b12plan` command."""

    @app.command()
    def screen(
        inputs: Annotated[
            list[Path] | None,
            typer.Argument(
                metavar="INPUT",
                help="FHIR Bulk Data NDJSON (plain or .gz), a Bulk Data manifest, or CSV/Parquet files in "
                "the screening layout (docs/screening.md); files or folders. None with --engine postgres: "
                "screen the tables already in the database.",
                show_default=False,
            ),
        ] = None,
        ruleset: Annotated[str, typer.Option(help="Rule set id.")] = "nice-ng239",
        as_of: Annotated[
            str | None, typer.Option("--as-of", help="Screen as on this date (YYYY-MM-DD; default today).")
        ] = None,
        out_dir: Annotated[Path, typer.Option("--out", help="Folder for the results.")] = Path("screening"),
        engine: Annotated[str, typer.Option(help="duckdb, postgres or spark.")] = "duckdb",
        memory_limit: Annotated[str, typer.Option(help="DuckDB memory limit, e.g. 1GB.")] = "1GB",
        threads: Annotated[int | None, typer.Option(help="DuckDB threads (default: all cores).")] = None,
        postgres_url: Annotated[
            str | None, typer.Option("--postgres-url", help="PostgreSQL URL for --engine postgres.")
        ] = None,
        postgres_schema: Annotated[
            str | None, typer.Option("--postgres-schema", help="Schema holding the five layout tables.")
        ] = None,
        spark_master: Annotated[str, typer.Option(help="Spark master for --engine spark.")] = "local[*]",
        save_layout: Annotated[
            Path | None,
            typer.Option(
                "--save-layout",
                help="Also keep the inputs in the screening layout as Parquet files in this folder "
                "(observations.parquet, ...): a later screen of that folder skips reading FHIR again.",
            ),
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ) -> None:
        """Screen a population: findings per person, a summary and an HTML report (counts only)."""

        def go() -> None:
            from b12plan.screening.service import EngineOptions, screen

            if engine not in ENGINES:
                raise UserError(
                    [FieldProblem("--engine", f"{engine!r} is not an engine; use {', '.join(ENGINES)}")]
                )
            options = EngineOptions(
                engine=engine,  # type: ignore[arg-type]  # checked above
                memory_limit=memory_limit,
                threads=threads,
                postgres_url=postgres_url,
                postgres_schema=postgres_schema,
                spark_master=spark_master,
                save_layout=save_layout,
            )
            day = _date(as_of, "--as-of")
            with Progress(
                TextColumn("{task.description:<22}"),
                BarColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
                disable=quiet or not err.is_terminal,
            ) as bar:
                result = screen(
                    list(inputs or []),
                    out=out_dir,
                    ruleset=ruleset,
                    as_of=day,
                    options=options,
                    progress=_Bar(bar),
                )
            _print_result(result)

        _guard(go)

    @app.command()
    def synth(
        patients: Annotated[int, typer.Option("--patients", "-n", help="Number of people.")] = 1000,
        out_dir: Annotated[Path, typer.Option("--out", help="Folder for the NDJSON files.")] = Path(
            "synthetic"
        ),
        seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 0,
        as_of: Annotated[
            str, typer.Option("--as-of", help="Reference date the histories end on (YYYY-MM-DD).")
        ] = "2025-06-30",
        gzip: Annotated[bool, typer.Option("--gzip", help="Write .ndjson.gz files.")] = False,
    ) -> None:
        """Write a synthetic population as FHIR Bulk Data NDJSON (no real person's data)."""

        def go() -> None:
            from b12plan.screening.service import synthesize

            summary = synthesize(patients, out_dir, seed=seed, as_of=_date(as_of, "--as-of"), compress=gzip)
            counts = ", ".join(f"{k} {v:,}" for k, v in summary.resources.items())
            out.print(f"{summary.patients:,} synthetic people written to {out_dir}: {counts}", markup=False)

        _guard(go)
