"""The patient-record commands: `patient`, `give`, `vial`, `lab`, `symptom`, `due`, `review`, `history`,
`export`, `import`, `backup`, `db`. Thin: each parses its options, calls `b12plan.services.records` or
`b12plan.services.record_files`, and prints. Errors go through `main._guard` (`field: problem`, exit 2).

The database and the acting user are global options (`b12plan --db FILE|URL --user NAME ...`), set by the
main callback through `configure`. Messages about a record name its pseudonymous id, never the person.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from b12plan.errors import FieldProblem, UserError

if TYPE_CHECKING:  # the store (SQLAlchemy, Alembic) is imported by the commands that use it, not at start-up
    from b12plan.domain import followup
    from b12plan.domain.plan import Plan
    from b12plan.services import records
    from b12plan.store import Store

__all__ = ["DbOption", "Settings", "UserOption", "configure", "register", "save_plan_version"]

DATABASE_URL_ENV = "B12PLAN_DATABASE_URL"  # = b12plan.store.DATABASE_URL_ENV (tests check)
USER_ENV = "B12PLAN_USER"  # = b12plan.store.USER_ENV

T = TypeVar("T")
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help=f"Record database: a SQLite file or a postgresql:// URL (default: ${DATABASE_URL_ENV}, "
        "else b12plan.sqlite3 in your data folder).",
        show_default=False,
    ),
]
UserOption = Annotated[
    str | None,
    typer.Option("--user", help=f"Who is acting, for the audit log (default: ${USER_ENV}, else your login)."),
]


@dataclass(frozen=True)
class Settings:
    db: str | None = None
    user: str | None = None


_SETTINGS: ContextVar[Settings | None] = ContextVar("b12plan_record_settings", default=None)


def configure(*, db: str | None, user: str | None) -> None:
    """Called by the main callback: remember the global options for the command that follows."""
    _SETTINGS.set(Settings(db=db, user=user))


def _settings() -> Settings:
    return _SETTINGS.get() or Settings()


# The services name fields as the domain does (`vial_id`); a refusal here names what was typed (`--vial`).
OPTION_NAMES = {
    "patient": "ID", "id": "ID", "name": "--name", "clinic": "--clinic", "dose": "--dose",
    "volume_ml": "--dose", "route": "--route", "at": "--at", "site": "--site", "lot": "--lot",
    "expiry": "--expiry", "vial_id": "--vial", "product_id": "--product", "given_by": "--by",
    "opened": "--opened", "test": "TEST", "value": "VALUE", "unit": "UNIT", "date": "--date",
    "upper_limit": "--upper-limit", "lower_limit": "--lower-limit", "symptom": "SYMPTOM", "score": "SCORE",
    "reason": "--reason",
}  # fmt: skip


def _guard(fn: Callable[[], T], **renamed: str) -> T:
    """`main._guard`, with the services' field names turned into this command's option names."""
    from b12plan.cli.main import _guard as guard  # main imports this module: look it up when called

    names = {**OPTION_NAMES, **renamed}

    def named() -> T:
        try:
            return fn()
        except UserError as exc:
            problems = [FieldProblem(names.get(p.field, p.field), p.problem) for p in exc.problems]
            raise type(exc)(problems) from None

    return guard(named)


@contextmanager
def _store() -> Iterator[Store]:
    from b12plan.store import Store

    settings = _settings()
    with Store.open(settings.db, actor=settings.user) as store:
        yield store


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr for long work; silent when stderr is not a terminal."""
    if not err.is_terminal:
        yield lambda _done, _total: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _date(text: str | None, field: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise UserError([FieldProblem(field, f"{text!r} is not a date; write YYYY-MM-DD")]) from None


def _datetime(text: str | None, field: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError:
        moment = None
    if moment is None or "T" not in text.strip().replace(" ", "T"):
        raise UserError(
            [FieldProblem(field, f"{text!r} is not a date and time; write e.g. 2026-01-05T09:30")]
        )
    return moment.replace(tzinfo=None) if moment.tzinfo is None else moment.astimezone().replace(tzinfo=None)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _check_format(fmt: str, allowed: tuple[str, ...]) -> None:
    if fmt not in allowed:
        raise UserError(
            [FieldProblem("--format", f"{fmt!r} is not a format here; use {' or '.join(allowed)}")]
        )


IdArg = Annotated[str, typer.Argument(metavar="ID", help="The patient's pseudonymous id.")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="text or json")]

# -- patient -------------------------------------------------------------------------------------------------

patient_app = typer.Typer(help="Add, list and show patients.", no_args_is_help=True)


@patient_app.command("add")
def patient_add(
    ref: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="Pseudonymous id (default: generated).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="The person's name (optional; never logged).")] = None,
    clinic: Annotated[str | None, typer.Option(help="Clinic or practice.")] = None,
) -> None:
    """Add a patient under a pseudonymous id."""

    def go() -> None:
        from b12plan.services import records

        with _store() as store:
            patient = records.add_patient(store, ref, name=name, clinic=clinic)
        out.print(f"added patient {patient.ref}", markup=False)

    _guard(go)


@patient_app.command("list")
def patient_list(
    clinic: Annotated[str | None, typer.Option(help="Only this clinic.")] = None,
    names: Annotated[bool, typer.Option("--names", help="Show names too.")] = False,
    format: FormatOpt = "text",
) -> None:
    """List patients (ids and clinics; names only with --names)."""

    def go() -> None:
        from b12plan.services import records

        _check_format(format, ("text", "json"))
        with _store() as store:
            people = records.list_patients(store, clinic=clinic)
        if format == "json":
            _print_json(
                [{"id": p.ref, "clinic": p.clinic, **({"name": p.name} if names else {})} for p in people]
            )
            return
        table = Table("id", "clinic", *(("name",) if names else ()), "added", title=f"{len(people)} patients")
        for p in people:
            cells = (
                p.ref,
                p.clinic or "",
                *((p.name or "",) if names else ()),
                p.created_at.date().isoformat(),
            )
            table.add_row(*(Text(cell) for cell in cells))  # typed text is never read as markup
        out.print(table)

    _guard(go)


@patient_app.command("show")
def patient_show(
    ref: IdArg, on: Annotated[str | None, typer.Option(help="Day for the next dose (YYYY-MM-DD).")] = None
) -> None:
    """Show one patient: details, current plan, next dose, counts."""

    def go() -> None:
        from b12plan.services import records

        day = _date(on, "--on")
        with _store() as store:
            view = records.show_patient(
                store, ref, now=dt.datetime.combine(day, dt.time(23, 59)) if day else None
            )
        f, p = view.file, view.file.patient
        out.print(f"[bold]{p.ref}[/]", markup=True)
        for label, value in (
            ("name", p.name),
            ("clinic", p.clinic),
            ("added", p.created_at.date().isoformat()),
        ):
            if value:
                out.print(f"  {label}: {value}", markup=False)
        latest = f.latest_plan
        if latest and view.plan is not None:
            out.print(
                f"  plan: version {latest.version} ({latest.ruleset}), {latest.created_at.date()}",
                markup=False,
            )
            if view.plan.decision:
                out.print(f"    {view.plan.decision}", markup=False)
        else:
            out.print(f"  plan: none saved (b12plan plan CASE --patient {p.ref})", markup=False)
        if view.next_due is not None:
            out.print(f"  next dose: {_due_text(view.next_due)}", markup=False)
        counts = (len(f.administrations), len(f.labs), len(f.symptoms), len(f.vials))
        out.print("  doses: {}, labs: {}, diary entries: {}, vials: {}".format(*counts), markup=False)
        for vial in f.vials:
            out.print(
                f"  vial {vial.id}: {vial.product_id}, {vial.volume_left_ml:g} of {vial.volume_ml:g} mL "
                f"left, discard on {vial.discard_on}",
                markup=False,
            )

    _guard(go)


def _due_text(due: followup.DueDose) -> str:
    volume = f", {due.volume_ml:g} mL" if due.volume_ml else ""
    late = f", {due.days_late} days late" if due.days_late else ""
    return (
        f"dose {due.number} on {due.due}: {due.dose_mcg:g} mcg {due.route.value}{volume} ({due.status}{late})"
    )


# -- plan --patient (called from main.plan) --------------------------------------------------------------


def save_plan_version(case: dict[str, Any], plan: Plan, *, patient: str, reason: str | None) -> None:
    """`b12plan plan CASE --patient ID [--reason TEXT]`: save the plan just made as the next version."""
    from b12plan.services import records

    def save() -> int:
        with _store() as store:
            return records.save_plan_version(store, patient, case=case, plan=plan, reason=reason).version

    version = _guard(save, patient="--patient")
    err.print(f"saved as plan version {version} for {patient}", markup=False)


# -- give, vial, lab, symptom --------------------------------------------------------------------------------


def give(
    ref: IdArg,
    at: Annotated[
        str | None, typer.Option(help="When it was given, e.g. 2026-01-05T09:30 (default: now).")
    ] = None,
    dose: Annotated[
        str | None, typer.Option(help="Dose in mcg or mg, e.g. 1000mcg (default: the dose due).")
    ] = None,
    site: Annotated[
        str | None,
        typer.Option(help="Injection site id, e.g. deltoid-left (an unknown one is refused with the list)."),
    ] = None,
    lot: Annotated[str | None, typer.Option(help="Lot (batch) number.")] = None,
    vial: Annotated[
        int | None, typer.Option(help="Drawn from this open vial (number from `patient show`).")
    ] = None,
    route: Annotated[str | None, typer.Option(help="IM, SC or oral (default: as planned).")] = None,
    expiry: Annotated[str | None, typer.Option(help="Expiry date of the product (YYYY-MM-DD).")] = None,
    product: Annotated[
        str | None, typer.Option(help="Product id (default: the vial's, else the plan's).")
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who gave it; `self` when the patient did (default: --user).")
    ] = None,
) -> None:
    """Record a dose given."""

    def go() -> None:
        from b12plan.services import records

        with _store() as store:
            given = records.give_dose(
                store, ref, at=_datetime(at, "--at"), dose=dose, route=route, site=site, lot=lot,
                expiry=_date(expiry, "--expiry"), vial=vial, product=product, given_by=by,
            )  # fmt: skip
        a = given.administration
        volume = f" ({a.volume_ml:g} mL)" if a.volume_ml else ""
        where = f", site {a.site}" if a.site else ""
        out.print(
            f"recorded for {ref}: {a.dose_mcg:g} mcg {a.route.value}{volume} at {a.at:%Y-%m-%d %H:%M}{where}",
            markup=False,
        )
        if given.vial_left_ml is not None:
            out.print(f"vial {a.vial_id}: {given.vial_left_ml:g} mL left", markup=False)
        if given.next_site:
            out.print(f"next site: {given.next_site}", markup=False)

    _guard(go)


vial_app = typer.Typer(help="Multi-dose vials in use.", no_args_is_help=True)


@vial_app.command("open")
def vial_open(
    ref: IdArg,
    product: Annotated[str | None, typer.Option(help="Product id (default: the plan's product).")] = None,
    opened: Annotated[str | None, typer.Option(help="Day of first puncture (default: today).")] = None,
    lot: Annotated[str | None, typer.Option(help="Lot (batch) number.")] = None,
    expiry: Annotated[str | None, typer.Option(help="Expiry date on the label (YYYY-MM-DD).")] = None,
) -> None:
    """Record a multi-dose vial opened for a patient (its discard date is worked out)."""

    def go() -> None:
        from b12plan.services import records

        with _store() as store:
            vial = records.open_vial(
                store,
                ref,
                product=product,
                opened=_date(opened, "--opened"),
                lot=lot,
                expiry=_date(expiry, "--expiry"),
            )
        out.print(
            f"vial {vial.id} opened for {ref}: {vial.volume_ml:g} mL, discard on {vial.discard_on}",
            markup=False,
        )

    _guard(go)


lab_app = typer.Typer(help="Lab results over time.", no_args_is_help=True)


@lab_app.command("add")
def lab_add(
    ref: IdArg,
    test: Annotated[str, typer.Argument(help="Test code (b12_total, holotc, mma, hb, ...) or LOINC code.")],
    value: Annotated[str, typer.Argument(help="The result: a number, or positive/negative for ifab.")],
    unit: Annotated[str | None, typer.Argument(help="Unit as reported, e.g. ng/L, pmol/L, g/L.")] = None,
    date: Annotated[str | None, typer.Option(help="Day the sample was taken (default: today).")] = None,
    upper_limit: Annotated[
        float | None, typer.Option(help="The lab's upper reference limit, same unit.")
    ] = None,
    lower_limit: Annotated[
        float | None, typer.Option(help="The lab's lower reference limit, same unit.")
    ] = None,
) -> None:
    """Record a lab result (same codes and units as a case)."""

    def go() -> None:
        from b12plan.services import records

        with _store() as store:
            entry = records.add_lab(
                store, ref, test, value, unit, date=_date(date, "--date"),
                upper_limit=upper_limit, lower_limit=lower_limit,
            )  # fmt: skip
        shown = entry.value if isinstance(entry.value, str) else f"{entry.value:g} {entry.unit or ''}".strip()
        out.print(f"recorded for {ref}: {entry.test.value} {shown} on {entry.date}", markup=False)

    _guard(go)


symptom_app = typer.Typer(help="The symptom diary (0 none to 10 worst).", no_args_is_help=True)


@symptom_app.command("add")
def symptom_add(
    ref: IdArg,
    symptom: Annotated[str, typer.Argument(help="Symptom code: fatigue, paraesthesia, cognitive, ...")],
    score: Annotated[str, typer.Argument(help="0 (none) to 10 (worst).")],
    date: Annotated[str | None, typer.Option(help="Day (default: today).")] = None,
) -> None:
    """Record a symptom diary score."""

    def go() -> None:
        from b12plan.services import records

        with _store() as store:
            entry = records.add_symptom(store, ref, symptom, score, date=_date(date, "--date"))
        out.print(f"recorded for {ref}: {entry.symptom.value} {entry.score}/10 on {entry.date}", markup=False)

    _guard(go)


# -- due, review, history ------------------------------------------------------------------------------------


def due(
    on: Annotated[str | None, typer.Option(help="The day (default: today), YYYY-MM-DD.")] = None,
    format: FormatOpt = "text",
) -> None:
    """Everyone with a dose due or overdue, most overdue first."""

    def go() -> None:
        from b12plan.services import records

        _check_format(format, ("text", "json"))
        day = _date(on, "--on") or dt.date.today()
        with _store() as store, _progress("checking patients") as step:
            entries = records.due_list(store, on=day, progress=step)
        if format == "json":
            _print_json([_due_json(e) for e in entries])
            return
        _print_due(day, entries)

    _guard(go)


def _print_due(day: dt.date, entries: list[records.DueEntry]) -> None:
    """Plain aligned columns: a work list of thousands of rows prints at once (a Rich table does not)."""
    rows = [("id", "clinic", "due", "days late", "dose", "status")]
    for e in entries:
        volume = f" ({e.due.volume_ml:g} mL)" if e.due.volume_ml else ""
        dose = f"{e.due.dose_mcg:g} mcg {e.due.route.value}{volume}"
        clinic, due = e.patient.clinic or "", e.due.due.isoformat()
        rows.append((e.patient.ref, clinic, due, str(e.days_late), dose, e.due.status))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"Due on {day}: {len(entries)} patient{'' if len(entries) == 1 else 's'}"]
    for row in rows if entries else []:
        cells = [
            c.rjust(w) if i == 3 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    sys.stdout.write("\n".join(lines) + "\n")


def _due_json(entry: records.DueEntry) -> dict[str, Any]:
    return {
        "id": entry.patient.ref,
        "clinic": entry.patient.clinic,
        "days_late": entry.days_late,
        "due": entry.due.model_dump(mode="json"),
    }


def review(
    ref: IdArg,
    on: Annotated[str | None, typer.Option(help="The day (default: today), YYYY-MM-DD.")] = None,
    format: FormatOpt = "text",
) -> None:
    """Review one patient: response checks, symptom course, mistakes and next steps, with reasons."""

    def go() -> None:
        from b12plan.services import records

        _check_format(format, ("text", "json"))
        with _store() as store:
            result = records.review_patient(store, ref, on=_date(on, "--on"))
        if format == "json":
            _print_json(result.model_dump(mode="json"))
            return
        _print_review(ref, result)

    _guard(go)


def _print_review(ref: str, result: followup.Review) -> None:
    """The review for people: each section, and every finding and step with its rule ids."""
    version = f"plan version {result.plan_version}" if result.plan_version else "no plan"
    out.print(f"[bold]Review of {ref} on {result.on}[/] ({version})", markup=True)
    a = result.adherence
    out.print(
        f"\n[bold]Doses[/]: {a.given} given of {a.planned} due: {a.on_time} on time, {a.late} late, "
        f"{a.missed} missed, {a.overdue} overdue, {a.extra} extra  [dim]{' '.join(a.rules)}[/]",
        markup=True,
    )
    for dose in a.doses:
        if dose.status != "on_time":
            given = f"given {dose.given}" if dose.given else "not given"
            line = f"  dose {dose.number} due {dose.due}: {dose.status}, {given}, {dose.days_late} days late"
            out.print(line, markup=False)
    if result.next_due is not None:
        out.print(f"  next: {_due_text(result.next_due)}", markup=False)
    for vial in result.vials:
        state = "empty" if vial.empty else "to discard" if vial.expired else f"{vial.days_left} days left"
        out.print(f"  vial {vial.id}: {vial.volume_left_ml:g} mL left, {state}", markup=False)
    sections = (("Response", result.response), ("Symptom cycle", result.symptom_cycle.findings))
    for title, findings in (*sections, ("Mistakes", result.mistakes)):
        out.print(f"\n[bold]{title}[/]" + ("" if findings else ": nothing found"), markup=True)
        for f in findings:
            out.print(
                f"  {f.level.value.upper()} {f.code}: {f.message}  [{', '.join(f.rules)}]", markup=False
            )
    out.print("\n[bold]Next steps[/]", markup=True)
    for i, step in enumerate(result.next_steps, start=1):
        out.print(f"  {i}. {step.text}  [{', '.join(step.rules)}]", markup=False)


def history(ref: IdArg, format: FormatOpt = "text") -> None:
    """A patient's record as a timeline: plans, vials, doses, labs, symptom scores."""

    def go() -> None:
        from b12plan.services import records

        _check_format(format, ("text", "json"))
        with _store() as store:
            patient, entries = records.history(store, ref)
        if format == "json":
            _print_json([{"at": e.at.isoformat(), "kind": e.kind, "summary": e.summary} for e in entries])
            return
        table = Table("when", "what", "", title=f"History of {patient.ref}")
        for e in entries:
            when = e.at.strftime("%Y-%m-%d %H:%M") if e.at.time() != dt.time() else e.at.date().isoformat()
            table.add_row(when, e.kind, Text(e.summary))
        out.print(table)

    _guard(go)


# -- export, import, backup, db -----------------------------------------------------------------------------


def export(
    ref: IdArg,
    format: Annotated[
        str, typer.Option("--format", "-f", help="json (importable), csv, or fhir (plan and doses, FHIR R4)")
    ] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this new file.")] = None,
) -> None:
    """Export one patient's record."""

    def go() -> None:
        from b12plan.services import record_files

        with _store() as store:
            text = record_files.export_record(store, ref, format)
        if output is None:
            sys.stdout.write(text)
            return
        if output.exists():
            raise UserError([FieldProblem("--output", f"{output} already exists")])
        output.write_text(text, encoding="utf-8")
        err.print(f"exported {ref} to {output}", markup=False)

    _guard(go)


FhirOnly = "FHIR files only."


def import_(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE",
            help="A `b12plan export` JSON file; or FHIR: a Bundle (JSON), NDJSON (optionally gzipped), a "
            "Bulk Data manifest with its NDJSON files beside it; or - for stdin.",
        ),
    ],
    plan: Annotated[
        bool, typer.Option("--plan", help=f"Also save a plan version from each imported case. {FhirOnly}")
    ] = False,
    ruleset: Annotated[str | None, typer.Option(help=f"Rule set for --plan. {FhirOnly}")] = None,
    start: Annotated[str | None, typer.Option(help=f"First treatment day for --plan. {FhirOnly}")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help=f"Count ages on this day. {FhirOnly}")] = None,
    reason: Annotated[str | None, typer.Option(help=f"Why the plan changed, with --plan. {FhirOnly}")] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help=f"Import nothing if anything is not imported. {FhirOnly}")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every item not imported.")] = False,
) -> None:
    """Import records exported as JSON (one or a list), or a FHIR R4 file; entries already stored are
    skipped. What is not imported is counted on stderr (listed with --verbose)."""

    def go() -> None:
        from b12plan.services import fhir_import, record_files

        stdin = sys.stdin.buffer.read() if file == "-" else None
        _kind, text, fhir = fhir_import.read_fhir_file(file, stdin=stdin)
        if fhir is not None:
            from b12plan.cli.fhir import import_fhir

            import_fhir(fhir, plan=plan, ruleset=ruleset, start=start, as_of=as_of, reason=reason,
                        strict=strict, verbose=verbose)  # fmt: skip
            return
        if plan or ruleset or start or as_of or reason or strict:
            raise UserError(
                [FieldProblem("FILE", "is a b12plan record export: --plan and the like are for FHIR")]
            )
        with _store() as store, _progress("importing") as step:
            result = record_files.import_records(store, text, progress=step)
        new = f", new patients: {', '.join(result.patients_added)}" if result.patients_added else ""
        out.print(
            f"imported {result.entries_added} entries, {result.entries_skipped} already stored{new}",
            markup=False,
        )

    _guard(go)


def backup(file: Annotated[Path, typer.Argument(metavar="FILE", help="The new backup file.")]) -> None:
    """Copy the SQLite record database, while in use, to a new file.

    Restore: stop every b12plan process, then use the copy with `--db FILE` or copy it over the database
    file (`b12plan db where`), then run `b12plan db upgrade`. PostgreSQL: use pg_dump and pg_restore.
    """

    def go() -> None:
        from b12plan.services import record_files

        with _store() as store, _progress("backing up") as step:
            result = record_files.backup(store, file, progress=step)
        out.print(f"backed up to {result.path} ({result.pages} pages, integrity ok)", markup=False)

    _guard(go)


db_app = typer.Typer(help="The record database.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database, or bring its schema up to this b12plan's version (one transaction)."""

    def go() -> None:
        from b12plan.store import resolve_url, upgrade
        from b12plan.store.engine import describe_url, make_engine

        url = resolve_url(_settings().db)
        engine = make_engine(url)
        try:
            with _progress("upgrading") as step:
                before, after = upgrade(engine, progress=step)
        finally:
            engine.dispose()
        what = f"upgraded from {before} to {after}" if before and before != after else f"at revision {after}"
        if before is None:
            what = f"created at revision {after}"
        out.print(f"{describe_url(url)}: {what}", markup=False)

    _guard(go)


@db_app.command("where")
def db_where() -> None:
    """Print which database the commands use, and its schema revision."""

    def go() -> None:
        from b12plan.store import resolve_url, schema_state
        from b12plan.store.engine import describe_url, make_engine

        url = resolve_url(_settings().db)
        engine = make_engine(url)
        try:
            state = schema_state(engine)
        finally:
            engine.dispose()
        current = state.current or "none (run `b12plan db upgrade`)"
        out.print(f"{describe_url(url)}\nrevision: {current} (this b12plan: {state.head})", markup=False)

    _guard(go)


def register(app: typer.Typer) -> None:
    """Add the record commands to the main app."""
    app.add_typer(patient_app, name="patient")
    app.add_typer(vial_app, name="vial")
    app.add_typer(lab_app, name="lab")
    app.add_typer(symptom_app, name="symptom")
    app.add_typer(db_app, name="db")
    app.command("give")(give)
    app.command("due")(due)
    app.command("review")(review)
    app.command("history")(history)
    app.command("export")(export)
    app.command("import")(import_)
    app.command("backup")(backup)
