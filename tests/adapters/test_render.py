"""The written plan (text, Markdown, HTML, PDF) from a hand-built UK hydroxocobalamin plan.

The plan here is built by hand, not by the rule engine, so these tests pin the renderers alone: what the
plan holds must be shown, in words, with its sources, and nothing else.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import subprocess
import sys
from collections.abc import Callable
from html.parser import HTMLParser

import pytest

from b12plan.adapters import render
from b12plan.adapters.render import _words as words
from b12plan.adapters.render import render_html, render_markdown, render_pdf, render_text
from b12plan.adapters.render._sections import HEADINGS
from b12plan.domain.codes import AlertLevel, Cause, EventKind, Formulation, LabTest, Route, Stage, Status
from b12plan.domain.plan import (
    Alert,
    Assessment,
    Event,
    Expectation,
    LabReading,
    Phase,
    Plan,
    ProductUse,
    Reason,
    Regimen,
    RulesetRef,
    Supply,
)
from b12plan.errors import UserError

START = dt.date(2026, 12, 7)  # a Monday
LOADING = ["bnf-hydroxo-loading", "design-three-times-week"]
NEURO_LOADING = ["bnf-hydroxo-loading", "design-until-improvement"]
MAINTENANCE = ["bnf-hydroxo-maintenance", "ng239-lifelong-irreversible"]
RESPONSE = ["uk-response-tests"]
LOTHIAN = "https://apps.nhslothian.scot/refhelp/vitamin-b12-deficiency"
BSG = "https://gut.bmj.com/content/68/9/1545"
_REASONS = [  # rule, evidence, source, text
    ("ng239-total-b12", "Q", "https://www.nwlpathology.nhs.uk/tests-database/vitamin-b12/",
     "Total B12 below 180 ng/L confirms deficiency (NG239 as quoted)."),
    ("ng239-lifelong-irreversible", "P", "https://www.nice.org.uk/guidance/ng239/chapter/rationale-and-impact",
     "Replacement is not stopped when the cause is irreversible."),
    ("bnf-hydroxo-loading", "P", "https://pernicious-anaemia-society.org/treatment/",
     "Hydroxocobalamin 1 mg IM three times a week for 2 weeks (no neurological involvement)."),
    ("design-three-times-week", "D", "b12plan design rule",
     "'Three times a week' is spaced as days 0, 2, 4, 7, 9 and 11."),
    ("bnf-hydroxo-maintenance", "P", "https://ggcmedicines.org.uk/blog/medicines-update/vitamin-b12-guideline-updated",
     "Maintenance 1 mg every 2 to 3 months."),
    ("uk-response-tests", "P", "https://papergp.com/index.php/data-interpretation/b12-and-folate/",
     "Reticulocytes at 7 to 10 days; full blood count at 8 weeks."),
    ("ng239-review", "Q", "https://www.nasgp.org.uk/resource/vitamin-b12-deficiency-nice-march-2024/",
     "Review about 3 months after starting."),
    ("nerves-months", "P", "https://onlinelibrary.wiley.com/doi/10.1111/bjh.12959/full",
     "Nerves recover over months, often incompletely."),
    ("no-retest-b12", "P", "https://remedy.bnssg.icb.nhs.uk/adults/haematology/vitamin-b12",
     "Serum B12 is uninformative on replacement; monitor with the blood count."),
    ("folate-not-alone", "P", LOTHIAN, "Never folic acid alone in B12 deficiency; B12 first."),
]  # fmt: skip
_NEURO_REASONS = [
    ("lothian-red-flags", "P", f"{LOTHIAN}#red-flags",
     "Spinal-cord or visual symptoms: same-day assessment; treat without waiting."),
    ("design-until-improvement", "D", "b12plan design rule",
     "'Until no further improvement' is planned as alternate-day doses up to a review at 3 weeks."),
]  # fmt: skip
REASONS = [Reason(rule=r, evidence=e, source=s, text=t) for r, e, s, t in _REASONS]
NEURO_REASONS = [Reason(rule=r, evidence=e, source=s, text=t) for r, e, s, t in _NEURO_REASONS]
IM_1MG = {"route": Route.IM, "dose_mcg": 1000, "volume_ml": 1.0}


def _phases(neuro: bool) -> list[Phase]:
    open_ended = {"doses": None, "until": "no_further_improvement", "review_after_days": 21}
    six = {"times_per_week": 3, "doses": 6, "until": None, "description": "Mon, Wed, Fri for two weeks."}
    loading = Phase(
        stage=Stage.REPLETION,
        **IM_1MG,
        syringe_units=None,
        interval_days=2,
        lifelong=False,
        rules=NEURO_LOADING if neuro else LOADING,
        **(open_ended if neuro else six),
    )
    maintenance = Phase(
        stage=Stage.MAINTENANCE,
        **IM_1MG,
        syringe_units=None,
        interval_days=56 if neuro else 84,
        doses=None,
        until=None,
        lifelong=True,
        interval_range_days=(56, 84),
        rules=MAINTENANCE,
    )
    return [loading, maintenance]


def _events(neuro: bool, note: str) -> list[Event]:
    def dose(day: dt.date, stage: Stage, rules: list[str], provisional: bool = False) -> Event:
        kind = EventKind.INJECTION
        return Event(date=day, kind=kind, stage=stage, **IM_1MG, provisional=provisional, rules=rules)

    def check(days: int, kind: EventKind, rules: list[str], **more: object) -> Event:
        return Event(date=START + dt.timedelta(days=days), kind=kind, rules=rules, **more)

    days = range(0, 21, 2) if neuro else (0, 2, 4, 7, 9, 11)
    loading = NEURO_LOADING if neuro else LOADING
    events = [dose(START + dt.timedelta(d), Stage.REPLETION, loading) for d in days]
    first, step = (START + dt.timedelta(days=22), 56) if neuro else (START + dt.timedelta(days=95), 84)
    for i in range(4):
        day = first + dt.timedelta(days=step * i)
        events.append(dose(day, Stage.MAINTENANCE, MAINTENANCE, provisional=i >= 1))
    events += [
        check(10, EventKind.TEST, RESPONSE, tests=[LabTest.RETICULOCYTES]),
        check(56, EventKind.TEST, RESPONSE, tests=[LabTest.HB, LabTest.MCV], note="Full blood count."),
        check(91, EventKind.REVIEW, ["ng239-review"], note=note),
    ]
    if neuro:
        note = "Are nerve symptoms still improving?"
        events.append(check(21, EventKind.REVIEW, ["design-until-improvement"], note=note))
    return sorted(events, key=lambda e: e.date)


def make_plan(*, neuro: bool = False, note: str = "Review symptoms and the blood count.") -> Plan:
    """A UK hydroxocobalamin plan for autoimmune gastritis, as the rule engine would write it."""
    gastric = "Autoimmune gastritis raises gastric cancer risk: consider endoscopic surveillance."
    alerts = [Alert(code="GASTRIC_SURVEILLANCE", level=AlertLevel.INFO, message=gastric, source=BSG)]
    if neuro:
        message = "Neurological symptoms: same-day clinical assessment; start treatment without waiting."
        urgent = Alert(code="NEURO_URGENT", level=AlertLevel.CRITICAL, message=message, source=LOTHIAN)
        alerts.insert(0, urgent.model_copy(update={"rules": ["lothian-red-flags"]}))
    labs = [
        LabReading(
            test=LabTest.B12_TOTAL,
            value=95,
            unit="ng/L",
            reported="95 ng/L",
            date=dt.date(2026, 12, 1),
            interpretation="deficient",
            rules=["ng239-total-b12"],
        ),
        LabReading(test=LabTest.HB, value=118, unit="g/L", reported="118 g/L", interpretation="low"),
        LabReading(test=LabTest.IFAB, value="positive", unit=None, reported="positive"),
    ]
    product = ProductUse(
        id="hydroxocobalamin-1mg-1ml-amp",
        name="Hydroxocobalamin 1 mg/1 mL solution for injection ampoules",
        formulation=Formulation.HYDROXOCOBALAMIN,
        form="ampoule",
        strength_mcg_per_ml=1000,
        container_ml=1,
        routes=[Route.IM],
    )
    no_retest = "Do not re-test serum B12 during treatment; follow the blood count."
    mistakes = [
        Alert(
            code="NO_RETEST_B12", level=AlertLevel.INFO, message=no_retest, source="", rules=["no-retest-b12"]
        ),
        Alert(
            code="FOLATE_ALONE_RISK",
            level=AlertLevel.WARNING,
            message="Never give folic acid alone: start B12 first.",
            source="",
            rules=["folate-not-alone"],
        ),
    ]
    return Plan(
        ruleset=RulesetRef(id="nice-ng239", version="2024.1", title="NICE NG239 with BNF doses"),
        generated_for=START,
        horizon_months=12,
        assessment=Assessment(
            status=Status.DEFICIENT,
            neurological=neuro,
            anaemia=True,
            severe_anaemia=False,
            urgent=neuro,
            causes=[Cause.AUTOIMMUNE_GASTRITIS],
            lifelong=True,
            next_tests=[],
            summary="Total B12 95 ng/L is below 180 ng/L: deficiency. IFAB positive: autoimmune gastritis.",
            labs=labs,
            rules={"status": ["ng239-total-b12"], "lifelong": ["ng239-lifelong-irreversible"]},
        ),
        regimen=Regimen(
            formulation=Formulation.HYDROXOCOBALAMIN,
            product=product,
            phases=_phases(neuro),
            supply=Supply(containers=10, doses=10, total_mcg=10000, drawn_ml=10, wasted_ml=0),
            rules=["bnf-hydroxo-loading"],
        ),
        events=_events(neuro, note),
        alerts=alerts,
        expectations=[
            Expectation(after="days 5 to 10", what="the reticulocyte count rises", rules=RESPONSE),
            Expectation(after="about 8 weeks", what="blood counts back to normal", rules=RESPONSE),
            Expectation(after="months", what="nerve symptoms improve slowly", rules=["nerves-months"]),
        ],
        mistakes=mistakes,
        reasons=REASONS + NEURO_REASONS if neuro else REASONS,
        disclaimer="b12plan supports a prescriber and does not replace clinical judgement.",
    )


def no_regimen_plan() -> Plan:
    """An indeterminate result: no replacement now, MMA first."""
    plan = make_plan()
    b12 = LabReading(
        test=LabTest.B12_TOTAL,
        value=250,
        unit="ng/L",
        reported="250 ng/L",
        interpretation="indeterminate",
        rules=["ng239-total-b12"],
    )
    assessment = plan.assessment.model_copy(
        update={
            "status": Status.INDETERMINATE,
            "labs": [b12],
            "anaemia": False,
            "causes": [],
            "lifelong": None,
            "summary": "Total B12 250 ng/L is indeterminate; symptoms suggest checking MMA first.",
            "next_tests": [LabTest.MMA],
            "rules": {"status": ["ng239-total-b12"], "next_tests": ["ng239-total-b12"]},
        }
    )
    mma = Event(date=START, kind=EventKind.TEST, tests=[LabTest.MMA], rules=["ng239-review"])
    update = {"assessment": assessment, "regimen": None, "events": [mma], "expectations": [], "alerts": []}
    return plan.model_copy(update=update)


WIDE = 10_000  # no wrapping: one statement per line
RENDER_STR: dict[str, Callable[[Plan], str]] = {
    "text": lambda plan: render_text(plan, width=WIDE),
    "markdown": render_markdown,
    "html": lambda plan: render_html(plan).replace("\xa0", " "),  # no-break spaces: see test_html_glues
}
FORMATS = list(RENDER_STR)


class _HtmlTree(HTMLParser):
    """Checks that tags nest and close; records every start tag with its attributes, and the headings."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[tuple[int, str]] = []
        self._heading: list[str] | None = None
        self.feed(html)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {self.stack}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)
        if re.fullmatch(r"h[1-6]", tag):
            self._heading = [tag]

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()
        if self._heading and tag == self._heading[0]:
            self.headings.append((int(tag[1]), "".join(self._heading[1:])))
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)


def _headings(fmt: str, output: str) -> list[str]:
    if fmt == "text":
        lines = output.splitlines()
        return [lines[i - 1] for i in range(1, len(lines)) if re.fullmatch(r"-{3,}", lines[i])]
    if fmt == "markdown":
        return [line[3:] for line in output.splitlines() if line.startswith("## ")]
    return [text for level, text in _HtmlTree(output).headings if level == 2]


# --- every format ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_heading_is_present_in_order(fmt: str) -> None:
    got = _headings(fmt, RENDER_STR[fmt](make_plan()))
    expected = list(HEADINGS)
    assert [h.casefold() for h in got] == [h.casefold() for h in expected]


@pytest.mark.parametrize("fmt", FORMATS)
def test_urgent_alert_comes_first_in_a_box(fmt: str) -> None:
    output = RENDER_STR[fmt](make_plan(neuro=True))
    # Text and Markdown: the box is its own heading; HTML also names the section for screen readers.
    first = ["urgent", "assessment"] if fmt == "html" else ["assessment"]
    assert [h.casefold() for h in _headings(fmt, output)][: len(first)] == first
    urgent = output.index("URGENT: Neurological symptoms")
    assert urgent < output.casefold().index("assessment</h2>" if fmt == "html" else "assessment\n")
    if fmt == "text":
        box = output.splitlines()
        line = next(i for i, text in enumerate(box) if "URGENT:" in text)
        assert box[line - 1].startswith("+---")
        assert box[line].startswith("| URGENT:")
    elif fmt == "markdown":
        assert "> **URGENT: Neurological symptoms" in output
    else:
        assert '<section id="urgent" aria-labelledby="urgent-title" class="urgent">' in output


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_event_date_appears(fmt: str) -> None:
    plan = make_plan()
    output = RENDER_STR[fmt](plan)
    for event in plan.events:
        assert words.date_words(event.date) in output
    assert "Mon 7 Dec 2026" in output


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_dose_reads_in_micrograms_and_millilitres(fmt: str) -> None:
    plan = make_plan()
    output = RENDER_STR[fmt](plan)
    dose = "1000 micrograms (1 mg) = 1 mL by intramuscular injection"
    injections = [e for e in plan.events if e.kind == EventKind.INJECTION]
    assert output.count(dose) == len(injections) + len(plan.regimen.phases if plan.regimen else [])
    assert output.count("micrograms (") == output.count(dose)


@pytest.mark.parametrize("fmt", FORMATS)
def test_intervals_tests_and_provisional_events_read_in_words(fmt: str) -> None:
    output = RENDER_STR[fmt](make_plan())
    for phrase in (
        "three times a week",
        "every 12 weeks (84 days)",
        "every 8 to 12 weeks (56 to 84 days)",
        "6 doses",
        "for life",
        "reticulocyte count",
        "haemoglobin and MCV",
        "maintenance dose 2, provisional",
        "loading dose 6 of 6",
    ):
        assert phrase in output


@pytest.mark.parametrize("fmt", FORMATS)
def test_open_ended_loading_names_its_review_date(fmt: str) -> None:
    output = RENDER_STR[fmt](make_plan(neuro=True))
    assert "on alternate days" in output
    assert "until no further improvement; clinical review on Mon 28 Dec 2026" in output


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_reason_is_listed_with_its_url_and_evidence(fmt: str) -> None:
    plan = make_plan(neuro=True)
    output = RENDER_STR[fmt](plan)
    sources = output[output.casefold().rindex("sources") :]
    for reason in plan.reasons:
        assert reason.rule in sources
        if reason.source.startswith("https://"):
            assert reason.source in sources
    for evidence in ("primary source [P]", "quoted by others [Q]", "b12plan design rule [D]"):
        assert f"({evidence})" in sources


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_regimen_says_no_replacement_and_why(fmt: str) -> None:
    output = RENDER_STR[fmt](no_regimen_plan())
    assert "No vitamin B12 replacement is recommended now." in output
    assert "symptoms suggest checking MMA first" in output
    assert "Tests to do next: methylmalonic acid (MMA)." in output
    assert "micrograms" not in output


@pytest.mark.parametrize("fmt", FORMATS)
def test_ends_with_confirmation_signature_and_disclaimer(fmt: str) -> None:
    output = RENDER_STR[fmt](make_plan())
    tail = output[output.casefold().rindex("prescriber confirmation") :]
    for label in ("Prescriber name", "Signature", "Date", "does not replace clinical judgement"):
        assert label in tail


def test_several_phases_of_a_stage_share_its_doses_in_order() -> None:
    plan = make_plan()
    assert plan.regimen is not None
    first, maintenance = plan.regimen.phases
    halves = [first.model_copy(update={"doses": 3, "times_per_week": None, "description": ""})] * 2
    regimen = plan.regimen.model_copy(update={"phases": [*halves, maintenance]})
    text = render_text(plan.model_copy(update={"regimen": regimen}), width=WIDE)
    assert "Loading, part 1 of 2 " in text
    assert "How long: 3 doses, Mon 7 Dec 2026 to Fri 11 Dec 2026" in text
    assert "How long: 3 doses, Mon 14 Dec 2026 to Fri 18 Dec 2026" in text
    uneven = [first.model_copy(update={"doses": 4})] * 2  # 8 doses planned, 6 dated: dates would be wrong
    regimen = plan.regimen.model_copy(update={"phases": [*uneven, maintenance]})
    text = render_text(plan.model_copy(update={"regimen": regimen}), width=WIDE)
    assert "How long: 4 doses\n" in text


# --- footnotes ------------------------------------------------------------------------------------------


def _text_sources(text: str) -> tuple[str, dict[int, str]]:
    body, _, sources = text.partition("\nSOURCES\n")
    return body, {int(n): rule for n, rule in re.findall(r"^\[(\d+)\] (\S+) \(", sources, re.MULTILINE)}


def test_text_footnotes_resolve_to_the_numbered_sources() -> None:
    plan = make_plan(neuro=True)
    body, listed = _text_sources(render_text(plan, width=WIDE))
    assert sorted(listed) == list(range(1, len(plan.reasons) + 1))
    assert sorted(listed.values()) == sorted(r.rule for r in plan.reasons)
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", body)}
    assert cited <= set(listed)
    assert min(cited) == 1  # numbered in order of first citation: the urgent box first
    assert listed[1] == "lothian-red-flags"
    loading = next(line for line in body.splitlines() if line.startswith("Loading "))
    assert {listed[int(n)] for n in re.findall(r"\[(\d+)\]", loading)} == {
        "bnf-hydroxo-loading",
        "design-until-improvement",
    }


def test_markdown_footnotes_resolve_to_the_numbered_sources() -> None:
    output = render_markdown(make_plan())
    body, _, sources = output.partition("## Sources")
    listed = {int(n) for n in re.findall(r"^(\d+)\. `", sources, re.MULTILINE)}
    assert listed == set(range(1, len(REASONS) + 1))
    assert {int(n) for n in re.findall(r"\[(\d+)\]", body)} <= listed


def test_html_footnote_links_resolve_to_source_items() -> None:
    tree = _HtmlTree(render_html(make_plan()))
    targets = {attrs["href"] for tag, attrs in tree.starts if tag == "a" and (attrs["href"] or "")[:1] == "#"}
    ids = {f"#{attrs['id']}" for _, attrs in tree.starts if attrs.get("id")}
    assert targets
    assert targets <= ids
    assert {i for i in ids if i.startswith("#source-")} == {
        f"#source-{n}" for n in range(1, len(REASONS) + 1)
    }


def test_a_rule_with_no_reason_is_shown_not_hidden() -> None:
    plan = make_plan()
    plan = plan.model_copy(update={"reasons": [r for r in plan.reasons if r.rule != "nerves-months"]})
    _, listed = _text_sources(render_text(plan, width=WIDE))
    assert "nerves-months" in listed.values()
    assert "[8] nerves-months (unknown): no source recorded in this plan" in render_text(plan, width=WIDE)


# --- text -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [60, 88])
def test_text_wraps_to_width_without_breaking_urls(width: int) -> None:
    output = render_text(make_plan(neuro=True), width=width)
    for line in output.splitlines():
        assert len(line) <= width or re.search(r"https?://\S{20,}", line), line
    assert output.endswith("\n")
    assert "\x1b" not in output
    for reason in REASONS:
        if reason.source.startswith("https://"):
            assert reason.source in output


def test_text_strips_control_characters_from_plan_text() -> None:
    output = render_text(make_plan(note="Red \x1b[31malert\x1b[0m\nnext line"), width=WIDE)
    assert "\x1b" not in output
    assert "Red  [31malert [0m next line" in output


# --- markdown -------------------------------------------------------------------------------------------


def test_markdown_has_tables_for_phases_and_calendar_and_escapes_plan_text() -> None:
    output = render_markdown(make_plan(note="<script>alert('x')</script> | *bold*"))
    assert "| Stage | Dose | How often | How long | Sources |" in output
    assert "| Date | What | Details | Sources |" in output
    assert "### December 2026" in output
    assert r"\<script\>alert('x')\</script\> \| \*bold\*" in output
    assert "<script" not in output.replace(r"\<script", "")


def test_markdown_renders_as_intended() -> None:
    markdown_it = pytest.importorskip("markdown_it")  # ships with rich
    note = "<script>alert('x')</script> | *not bold* 1. not a list"
    plan = make_plan(note=note)
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(render_markdown(plan))
    assert "<script" not in html
    assert "&lt;script&gt;alert('x')&lt;/script&gt; | *not bold* 1. not a list" in html
    months = {(e.date.year, e.date.month) for e in plan.events}
    assert html.count("<table>") == 2 + len(months) + 1  # results, doses; each month; tests and reviews
    assert "<blockquote>" not in html  # no urgent box without a critical alert
    links = re.findall(r'<a href="([^"]+)"', html)
    assert sorted(links) == sorted(r.source for r in REASONS if r.source.startswith("https://"))  # [n]: text


# --- html -----------------------------------------------------------------------------------------------


def test_html_is_a_standalone_accessible_document() -> None:
    html = render_html(make_plan(neuro=True))
    tree = _HtmlTree(html)
    assert not tree.errors
    assert html.startswith("<!DOCTYPE html>")
    tags = [tag for tag, _ in tree.starts]
    assert tree.starts[0] == ("html", {"lang": "en-GB"})
    assert "title" in tags
    assert tags.count("h1") == 1
    levels = [level for level, _ in tree.headings]
    assert levels[0] == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))
    assert tags.count("table") == tags.count("thead") == tags.count("caption")
    assert all(attrs.get("scope") in {"col", "row"} for tag, attrs in tree.starts if tag == "th")
    assert not {"script", "link", "img", "iframe", "object"} & set(tags)
    assert not any("src" in attrs or "style" in attrs for _, attrs in tree.starts)
    assert "@import" not in html
    assert "url(" not in html
    assert "@page" in html
    assert "A4" in html


def test_html_glues_quantities_and_dates_so_they_never_wrap_apart() -> None:
    html = render_html(make_plan())
    assert "1000\xa0micrograms (1\xa0mg) =\xa01\xa0mL by intramuscular injection" in html
    assert "Mon\xa07\xa0Dec\xa02026" in html
    assert '<span class="nobr">95\xa0ng/L</span>' in html


def test_html_escapes_plan_text() -> None:
    html = render_html(make_plan(note="<script>alert('x')</script>"))
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert not _HtmlTree(html).errors


def test_renderers_load_nothing_at_import() -> None:
    code = (
        "import sys, b12plan.adapters.render as r\n"
        "from b12plan.adapters.render import html\n"
        "assert 'weasyprint' not in sys.modules\n"
        "assert html._template.cache_info().currsize == 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- pdf ------------------------------------------------------------------------------------------------


def test_pdf_is_a_pdf() -> None:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as error:  # OSError: the package is there but pango is not
        pytest.skip(f"WeasyPrint cannot import: {error}")
    assert render_pdf(make_plan(neuro=True)).startswith(b"%PDF")


def test_pdf_without_weasyprint_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    with pytest.raises(UserError, match="format: pdf needs WeasyPrint"):
        render_pdf(make_plan())


# --- public surface and wording -------------------------------------------------------------------------


def test_public_surface() -> None:
    assert sorted(render.__all__) == ["render_html", "render_markdown", "render_pdf", "render_text"]


@pytest.mark.parametrize(
    ("interval_days", "times_per_week", "expected"),
    [
        (1, None, "daily"),
        (2, None, "on alternate days"),
        (2, 3, "three times a week"),
        (3.5, 2, "twice a week"),
        (7, None, "once a week"),
        (28, None, "every 4 weeks (28 days)"),
        (84, None, "every 12 weeks (84 days)"),
        (30, None, "every 30 days"),
        (182.5, None, "every 182.5 days"),
    ],
)
def test_interval_words(interval_days: float, times_per_week: int | None, expected: str) -> None:
    assert words.every_words(interval_days, times_per_week) == expected


@pytest.mark.parametrize(
    ("dose", "volume", "units", "route", "injected", "expected"),
    [
        (1000, 1.0, None, Route.IM, True, "1000 micrograms (1 mg) = 1 mL by intramuscular injection"),
        (
            100,
            0.1,
            10,
            Route.SC,
            True,
            "100 micrograms (0.1 mg) = 0.1 mL (10 units on a U-100 insulin syringe) by subcutaneous",
        ),
        (250, 0.25, None, Route.IM, True, "250 micrograms (0.25 mg) = 0.25 mL by intramuscular injection"),
        (1000, None, None, Route.ORAL, False, "1000 micrograms (1 mg) by mouth"),
        (30, None, None, Route.IM, True, "30 micrograms (0.03 mg) (volume not given in this plan: ask the"),
    ],
)
def test_dose_words(
    dose: float, volume: float | None, units: float | None, route: Route, injected: bool, expected: str
) -> None:
    assert words.dose_words(dose, volume, units, route, injected=injected).startswith(expected)


@pytest.mark.parametrize(
    ("day", "expected"),
    [(dt.date(2026, 12, 7), "Mon 7 Dec 2026"), (dt.date(2027, 2, 28), "Sun 28 Feb 2027")],
)
def test_date_words(day: dt.date, expected: str) -> None:
    assert words.date_words(day) == expected
