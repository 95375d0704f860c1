"""`b12plan` command line (Typer + Rich). Thin: every command calls a service and prints the result.

Exit codes: 0 done; 2 input refused (`field: problem` on stderr, never a traceback); 3 a shipped data file is
broken (a bug in b12plan); 1 any other internal error (set B12PLAN_DEBUG=1 to see the traceback).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from b12plan import __version__, services
from b12plan.cli import fhir as fhir_cli
from b12plan.cli import record
from b12plan.cli import screen as screen_cli
from b12plan.cli import web as web_cli
from b12plan.errors import B12planError, UserError

__all__ = ["app", "run"]

app = typer.Typer(
    name="b12plan",
    help="Plan and follow vitamin B12 injection treatment. Supports a prescriber, who confirms every plan.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

T = TypeVar("T")


def _guard(fn: Callable[[], T]) -> T:
    """Turn our exceptions into messages and exit codes; nothing reaches the user as a traceback."""
    try:
        return fn()
    except UserError as exc:
        for line in exc.lines:
            err.print(f"[bold red]error:[/] {line}", markup=True)
        raise typer.Exit(exc.exit_code) from None
    except B12planError as exc:
        err.print(f"internal error in b12plan's data (please report it): {exc}", markup=False)
        raise typer.Exit(exc.exit_code) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        if os.environ.get("B12PLAN_DEBUG"):
            raise
        err.print(
            f"internal error: {type(exc).__name__}: {exc} (set B12PLAN_DEBUG=1 for details)", markup=False
        )
        raise typer.Exit(1) from None


def _write(result: str | bytes) -> None:
    if isinstance(result, bytes):
        sys.stdout.buffer.write(result)
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(result if result.endswith("\n") else result + "\n")


def _version(value: bool) -> None:
    if value:
        out.print(f"b12plan {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    db: record.DbOption = None,
    user: record.UserOption = None,
) -> None:
    """Plan and follow vitamin B12 injection treatment."""
    record.configure(db=db, user=user)


CaseArg = Annotated[
    str, typer.Argument(metavar="CASE", help="Case file (.json or .toml), or - for JSON on stdin.")
]


def _load(case: str) -> dict[str, Any]:
    return services.read_case_file(case, stdin_text=sys.stdin.read() if case == "-" else None)


@app.command()
def plan(
    case: CaseArg,
    format: Annotated[
        str, typer.Option("--format", "-f", help=f"Output format: {', '.join(services.FORMATS)}.")
    ] = "text",
    ruleset: Annotated[
        str | None, typer.Option(help="Rule set id (default: the case's, else nice-ng239).")
    ] = None,
    horizon: Annotated[int, typer.Option(help="Months of maintenance to put in the calendar.")] = 12,
    tz: Annotated[str, typer.Option(help="Time zone for --format ics.")] = "Europe/London",
    calendar_id: Annotated[
        str, typer.Option(help="Stable calendar id for --format ics (e.g. the patient id).")
    ] = "b12plan",
    patient: Annotated[str | None, typer.Option(help="Save the plan as this patient's next version.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why the plan changed (with --patient).")] = None,
) -> None:
    """Write the treatment plan for one case."""

    def go() -> None:
        if format not in services.FORMATS:
            raise UserError(f"--format: {format!r} is not a format; use one of {', '.join(services.FORMATS)}")
        data = _load(case)
        result = services.plan_document(data, today=dt.date.today(), ruleset=ruleset, horizon_months=horizon)
        now = dt.datetime.now(dt.UTC)
        rendered = services.render_plan(result, format, tz=tz, calendar_id=calendar_id, now=now)
        if patient is not None:  # saved only once the plan has rendered
            record.save_plan_version(data, result, patient=patient, reason=reason)
        _write(rendered)

    _guard(go)


@app.command()
def validate(case: CaseArg) -> None:
    """Check a case without planning it: vocabulary, units and plausibility."""

    def go() -> None:
        services.validate_document(_load(case))
        out.print("valid: the case can be planned")

    _guard(go)


@app.command()
def schema(
    which: Annotated[str, typer.Argument(help="case or plan")],
) -> None:
    """Print the JSON Schema of the case (input) or the plan (output)."""

    def go() -> None:
        from b12plan.schemas import json_schema

        _write(json.dumps(json_schema(which), indent=2) + "\n")

    _guard(go)


@app.command()
def rulesets() -> None:
    """List the rule sets."""

    def go() -> None:
        from b12plan.rulebook import load_ruleset, ruleset_ids

        table = Table(title="Rule sets (first is the default)")
        table.add_column("id", no_wrap=True)  # the id is what people type: never cut it short
        for heading in ("version", "title", "jurisdiction"):
            table.add_column(heading)
        for rid in ruleset_ids():
            meta = load_ruleset(rid).ruleset
            table.add_row(meta.id, meta.version, meta.title, meta.jurisdiction)
        out.print(table)

    _guard(go)


@app.command()
def rules(
    ruleset: Annotated[str, typer.Argument(help="Rule set id, e.g. nice-ng239.")],
    format: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
) -> None:
    """Print every rule of a rule set with its source and evidence tag."""

    def go() -> None:
        from b12plan.rulebook import load_ruleset

        rs = load_ruleset(ruleset)
        if format == "json":
            _write(rs.model_dump_json(indent=2))
            return
        tags = {"P": "primary", "Q": "quoted", "D": "design rule"}
        out.print(f"[bold]{rs.ruleset.title}[/] ({rs.id} {rs.ruleset.version})\n")
        for r in rs.rules:
            out.print(f"[bold]{r.id}[/] [dim]{r.role} · {tags[r.evidence]}[/]")
            out.print(f"  {r.text}", markup=False)
            out.print(f"  source: {rs.source_url(r)}\n", markup=False)

    _guard(go)


@app.command()
def products(
    format: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
) -> None:
    """List the product catalogue."""

    def go() -> None:
        from b12plan.rulebook import load_catalogue

        cat = load_catalogue()
        if format == "json":
            _write(json.dumps([p.model_dump(mode="json") for p in cat.products], indent=2))
            return
        table = Table(title="Products")
        table.add_column("id", no_wrap=True)  # the id is what a case names: never cut it short
        for heading in ("name", "strength", "container", "routes"):
            table.add_column(heading)
        for p in cat.products:
            strength = (
                f"{p.strength_mcg_per_ml:g} mcg/mL" if p.strength_mcg_per_ml else f"{p.strength_mcg:g} mcg"
            )
            container = (
                f"{p.container_ml:g} mL {p.container}{' (multi-dose)' if p.multi_dose else ''}"
                if p.container_ml
                else p.container
            )
            table.add_row(p.id or "", p.name, strength, container, ", ".join(r.value for r in p.routes))
        out.print(table)

    _guard(go)


@app.command()
def example() -> None:
    """Print an example case to start from: `b12plan example > case.json`."""
    _write(services.example_case_text())


record.register(app)
fhir_cli.register(app)
screen_cli.register(app)
web_cli.register(app)


def run() -> None:
    """Console-script entry point."""
    app()
