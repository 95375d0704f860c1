"""FHIR on the command line: `b12plan fhir case FILE`, and the FHIR half of `b12plan import FILE`.

Thin: `b12plan.services.fhir_import` reads the file and does the work; this module prints. What was not
imported is never silent: its count always goes to stderr, and `--verbose` lists every item (`fhir case`
always lists them, as checking the case is its purpose).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from b12plan.cli.record import _guard, _store, err, out
from b12plan.errors import FieldProblem, UserError

if TYPE_CHECKING:
    from b12plan.services.fhir_import import FhirFile

__all__ = ["fhir_app", "import_fhir", "register"]

fhir_app = typer.Typer(
    help="FHIR R4 files (Bundle, NDJSON, gzipped NDJSON, Bulk Data export): read them as cases.",
    no_args_is_help=True,
)


def _day(text: str | None, field: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise UserError([FieldProblem(field, f"{text!r} is not a date; write YYYY-MM-DD")]) from None


def _report(what: str, lines: list[str], *, verbose: bool) -> None:
    """`what: N` on stderr, and each line when `verbose`."""
    if not lines:
        return
    hint = "" if verbose else " (--verbose lists them)"
    err.print(f"{what}: {len(lines)}{hint}", markup=False)
    if verbose:
        for line in lines:
            err.print(f"  {line}", markup=False)


@fhir_app.command("case")
def case(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE",
            help="A FHIR Bundle or resource (JSON), NDJSON (optionally gzipped), a Bulk Data manifest with "
            "its NDJSON files beside it, or - for stdin.",
        ),
    ],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Count the age on this day (YYYY-MM-DD; default today).")
    ] = None,
    patient: Annotated[
        str | None, typer.Option(help="The FHIR Patient id, when the file holds several patients.")
    ] = None,
) -> None:
    """Print the case (b12plan.case/1 JSON) read from a FHIR file: check it, then `b12plan plan`.

    What could not be read (unknown codes, censored or malformed values) is listed on stderr.
    """

    def go() -> None:
        from b12plan.services import fhir_import

        day = _day(as_of, "--as-of") or dt.date.today()
        _, _, fhir = fhir_import.read_fhir_file(file, stdin=sys.stdin.buffer.read() if file == "-" else None)
        if fhir is None:
            raise UserError(
                [FieldProblem("FILE", "is a b12plan record export, not FHIR: use `b12plan import`")]
            )
        result = fhir_import.fhir_case(fhir, as_of=day, patient=patient)
        sys.stdout.write(json.dumps(result.case, indent=2, ensure_ascii=False) + "\n")
        _report("not read into the case", result.unknown, verbose=True)
        _report("notes on what was read", result.notes, verbose=True)

    _guard(go)


def import_fhir(
    fhir: FhirFile,
    *,
    plan: bool,
    ruleset: str | None,
    start: str | None,
    as_of: str | None,
    reason: str | None,
    strict: bool,
    verbose: bool,
) -> None:
    """`b12plan import FILE` for a FHIR file: import it (`fhir_import.import_fhir`) and say what it did.

    Called inside `record.import_`'s guard."""
    from b12plan.services import fhir_import

    with _store() as store:
        result = fhir_import.import_fhir(
            store, fhir, as_of=_day(as_of, "--as-of"), plan=plan, ruleset=ruleset,
            start=_day(start, "--start"), reason=reason, strict=strict,
        )  # fmt: skip
    people = result.patients
    new = [p.ref for p in people if p.new]
    added, skipped = sum(p.labs_added for p in people), sum(p.labs_skipped for p in people)
    line = f"imported {len(people)} patient{'s' if len(people) != 1 else ''} from FHIR"
    line += f" (new: {', '.join(new)})" if new else ""
    line += f": {added} lab results added, {skipped} already stored"
    if plan:
        saved = [f"{p.ref} v{p.plan_version}" for p in people if p.plan_version is not None]
        line += f"; plan versions saved: {', '.join(saved) if saved else 'none (already saved)'}"
    out.print(line, markup=False)
    _report(
        "not imported (unknown codes, censored or malformed values, results the record refuses)",
        result.not_imported(),
        verbose=verbose,
    )
    _report("notes on what was read", result.notes(), verbose=verbose)


def register(app: typer.Typer) -> None:
    """Add `b12plan fhir ...` to the main app."""
    app.add_typer(fhir_app, name="fhir")
