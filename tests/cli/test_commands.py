"""Every `b12plan` command, in-process: what it prints, and how it refuses (exit 2, `field: problem` on
stderr, never a traceback)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from b12plan import __version__, services
from b12plan.rulebook import ruleset_ids
from casekit import CASES_DIR, check, read_case_file

Cli = Callable[..., Any]
V01 = read_case_file(CASES_DIR / "v01-ag-no-neuro.json")
FIELD_PROBLEM = re.compile(r"^error: (\S[^:]*): \S", re.MULTILINE)

ADAPTERS = {  # format: (module, function) that renders it
    "text": ("b12plan.adapters.render", "render_text"),
    "markdown": ("b12plan.adapters.render", "render_markdown"),
    "html": ("b12plan.adapters.render", "render_html"),
    "pdf": ("b12plan.adapters.render", "render_pdf"),
    "ics": ("b12plan.adapters.icalendar", "plan_to_ics"),
    "fhir": ("b12plan.adapters.fhir", "plan_to_fhir_bundle"),
}


def _needs_adapter(fmt: str) -> None:
    """Skip a format whose adapter is not importable yet (it is being written elsewhere)."""
    module, function = ADAPTERS[fmt]
    try:
        getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as exc:
        pytest.skip(f"--format {fmt}: its adapter {module}.{function} is not importable yet ({exc})")
    if fmt == "pdf" and importlib.util.find_spec("weasyprint") is None:
        pytest.skip("--format pdf: WeasyPrint is not installed")


def _case_file(tmp_path: Path, doc: Any, name: str = "case.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def _refused(run: Any, field: str, *words: str) -> None:
    """Exit 2, nothing on stdout, `error: field: problem` on stderr naming `field`, no traceback."""
    assert run.exit_code == 2, run.all_output
    assert run.stdout == ""
    assert "Traceback" not in run.all_output
    fields = FIELD_PROBLEM.findall(run.stderr)
    assert field in fields, run.stderr
    for word in words:
        assert word in run.stderr, run.stderr


# -- plan, in every format -----------------------------------------------------------------------------------


def test_every_format_is_tested() -> None:
    assert set(services.FORMATS) == {"json", *ADAPTERS}


def test_plan_json(cli: Cli, tmp_path: Path, plan_validator: jsonschema.Draft202012Validator) -> None:
    run = cli("plan", _case_file(tmp_path, V01["input"]), "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""
    plan = json.loads(run.stdout)
    plan_validator.validate(plan)
    assert check(plan, V01["expect"]) == []


@pytest.mark.parametrize(
    ("fmt", "looks_like"),
    [
        ("text", lambda out: "hydroxocobalamin" in out.lower() and "prescriber" in out),
        ("markdown", lambda out: out.startswith("# ") and "hydroxocobalamin" in out.lower()),
        ("html", lambda out: out.lstrip().startswith("<!DOCTYPE html>") and "</html>" in out),
        ("ics", lambda out: out.startswith("BEGIN:VCALENDAR") and "BEGIN:VEVENT" in out),
        ("fhir", lambda out: json.loads(out)["resourceType"] == "Bundle"),
    ],
)
def test_plan_in_a_written_format(
    cli: Cli, tmp_path: Path, fmt: str, looks_like: Callable[[str], bool]
) -> None:
    _needs_adapter(fmt)
    run = cli("plan", _case_file(tmp_path, V01["input"]), "--format", fmt)
    assert run.exit_code == 0, run.stderr
    assert looks_like(run.stdout), run.stdout[:300]


def test_plan_pdf(cli: Cli, tmp_path: Path) -> None:
    _needs_adapter("pdf")
    run = cli("plan", _case_file(tmp_path, V01["input"]), "--format", "pdf")
    assert run.exit_code == 0, run.stderr
    assert run.stdout_bytes.startswith(b"%PDF-")


def test_plan_writes_text_by_default(cli: Cli, tmp_path: Path) -> None:
    _needs_adapter("text")
    run = cli("plan", _case_file(tmp_path, V01["input"]))
    assert run.exit_code == 0, run.stderr
    assert not run.stdout.lstrip().startswith("{")


def test_plan_ruleset_option_overrides_the_case(cli: Cli, tmp_path: Path) -> None:
    doc = {**V01["input"], "product": "us-cyanocobalamin-1000mcg-1ml-sdv"}
    run = cli("plan", _case_file(tmp_path, doc), "--format", "json", "--ruleset", "us-cyanocobalamin-label")
    plan = json.loads(run.stdout)
    assert plan["ruleset"]["id"] == "us-cyanocobalamin-label"
    assert plan["regimen"]["phases"][0]["dose_mcg"] == 100


def test_plan_horizon_option(cli: Cli, tmp_path: Path) -> None:
    run = cli("plan", _case_file(tmp_path, V01["input"]), "--format", "json", "--horizon", "3")
    plan = json.loads(run.stdout)
    assert plan["horizon_months"] == 3
    assert max(e["date"] for e in plan["events"]) < "2027-03-07"


def test_plan_reads_a_toml_case(cli: Cli, tmp_path: Path) -> None:
    toml = """
start_date = 2026-12-07
causes = ["autoimmune_gastritis"]
symptoms = ["fatigue", "glossitis"]

[patient]
age = 62
sex = "female"

[[labs]]
test = "b12_total"
value = 120
unit = "ng/L"
date = 2026-12-01

[[labs]]
test = "hb"
value = 98
unit = "g/L"
date = 2026-12-01

[[labs]]
test = "ifab"
value = "positive"
date = 2026-12-01

[product]
formulation = "hydroxocobalamin"
strength_mcg_per_ml = 1000
container_ml = 1
"""
    from_toml = cli("plan", _case_file(tmp_path, toml, "case.toml"), "--format", "json")
    assert from_toml.exit_code == 0, from_toml.stderr
    assert check(json.loads(from_toml.stdout), V01["expect"]) == []


def test_plan_reads_json_from_stdin(cli: Cli) -> None:
    run = cli("plan", "-", "--format", "json", input=json.dumps(V01["input"]))
    assert run.exit_code == 0, run.stderr
    assert check(json.loads(run.stdout), V01["expect"]) == []


def test_example_round_trips_through_plan(
    cli: Cli, case_validator: jsonschema.Draft202012Validator, plan_validator: jsonschema.Draft202012Validator
) -> None:
    example = cli("example")
    assert example.exit_code == 0
    case_validator.validate(json.loads(example.stdout))
    run = cli("plan", "-", "--format", "json", input=example.stdout)
    assert run.exit_code == 0, run.stderr
    plan = json.loads(run.stdout)
    plan_validator.validate(plan)
    assert plan["assessment"]["status"] == "deficient"


# -- plan refusals -----------------------------------------------------------------------------------------


def test_a_missing_file(cli: Cli, tmp_path: Path) -> None:
    _refused(cli("plan", tmp_path / "nope.json"), "CASE", "no such file")


@pytest.mark.parametrize(
    ("text", "name", "field", "words"),
    [
        ('{"patient": {"age": 40},', "case.json", "case", ["not valid JSON", "line 1"]),
        ("[1, 2]", "case.json", "case", ["object"]),
        ("", "case.json", "case", ["not valid JSON"]),
        ("patient = {age = }", "case.toml", "case", ["not valid TOML"]),
    ],
)
def test_a_file_that_is_not_a_case(
    cli: Cli, tmp_path: Path, text: str, name: str, field: str, words: list[str]
) -> None:
    _refused(cli("plan", _case_file(tmp_path, text, name)), field, *words)


@pytest.mark.parametrize(
    ("doc", "field", "words"),
    [
        ({"patient": {"age": 40}, "ruleset": "nice-2024"}, "ruleset", ["nice-ng239", "us-common-practice"]),
        ({"patient": {}}, "patient.age", ["required"]),
        ({"patient": {"age": -3}}, "patient.age", []),
        ({"patient": {"age": 40}, "symptoms": ["tired"]}, "symptoms[0]", ["'tired'", "fatigue"]),
        ({"patient": {"age": 40}, "causes": ["alcohol"]}, "causes[0]", ["'alcohol'"]),
        ({"patient": {"age": 40}, "conditions": ["gout"]}, "conditions[0]", ["'gout'"]),
        ({"patient": {"age": 40}, "colour": "red"}, "colour", ["not a field"]),
        (
            {"patient": {"age": 40}, "labs": [{"test": "b12_total", "value": 120, "unit": "mg"}]},
            "labs[0] (b12_total).unit",
            ["'mg' is not a unit for b12_total", "ng/L"],
        ),
        ({"patient": {"age": 40}, "product": "hydroxo-ampoule"}, "product", ["b12plan products"]),
        (
            {"patient": {"age": 40}, "product": {"formulation": "hydroxocobalamin"}},
            "product.strength_mcg_per_ml",
            ["required"],
        ),
    ],
)
def test_a_case_that_cannot_be_planned(
    cli: Cli, tmp_path: Path, doc: dict[str, Any], field: str, words: list[str]
) -> None:
    _refused(cli("plan", _case_file(tmp_path, doc), "--format", "json"), field, *words)


def test_every_bad_field_is_named_on_its_own_line(cli: Cli, tmp_path: Path) -> None:
    doc = {"patient": {"age": 40}, "symptoms": ["tired"], "causes": ["alcohol"]}
    run = cli("plan", _case_file(tmp_path, doc))
    assert FIELD_PROBLEM.findall(run.stderr) == ["symptoms[0]", "causes[0]"]


@pytest.mark.parametrize(
    ("args", "field", "words"),
    [
        (["--ruleset", "nice"], "ruleset", ["'nice' is not a rule set"]),
        (["--format", "docx"], "--format", ["'docx'", "json"]),
        (["--horizon", "0"], "horizon", ["1 to 120"]),
        (["--horizon", "121"], "horizon", ["1 to 120"]),
    ],
)
def test_a_bad_option(cli: Cli, tmp_path: Path, args: list[str], field: str, words: list[str]) -> None:
    _refused(cli("plan", _case_file(tmp_path, V01["input"]), *args), field, *words)


def test_empty_stdin(cli: Cli) -> None:
    _refused(cli("plan", "-", input=""), "case", "not valid JSON")


# -- validate ----------------------------------------------------------------------------------------------


def test_validate_a_good_case(cli: Cli, tmp_path: Path) -> None:
    run = cli("validate", _case_file(tmp_path, V01["input"]))
    assert run.exit_code == 0, run.stderr
    assert "valid" in run.stdout


@pytest.mark.parametrize(
    "stem", ["v11-bad-unit", "v12-missing-unit", "v13-negative", "t35-active-above-total"]
)
def test_validate_refuses_what_plan_refuses(cli: Cli, tmp_path: Path, stem: str) -> None:
    doc = read_case_file(CASES_DIR / f"{stem}.json")
    run = cli("validate", _case_file(tmp_path, doc["input"]))
    assert run.exit_code == 2
    assert "Traceback" not in run.all_output
    for word in doc["expect_error"]["mentions"]:
        assert word.lower() in run.stderr.lower()


# -- schema, rulesets, rules, products, example, --version ---------------------------------------------------


@pytest.mark.parametrize("which", ["case", "plan"])
def test_schema(cli: Cli, which: str) -> None:
    run = cli("schema", which)
    assert run.exit_code == 0
    schema = json.loads(run.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"b12plan.{which}/1"


def test_schema_of_something_else(cli: Cli) -> None:
    _refused(cli("schema", "rules"), "schema", "use case or plan")


def test_rulesets_lists_every_rule_set(cli: Cli) -> None:
    run = cli("rulesets")
    assert run.exit_code == 0
    for rid in ruleset_ids():
        assert rid in run.stdout


def test_rules_prints_each_rule_with_its_source(cli: Cli) -> None:
    run = cli("rules", "nice-ng239")
    assert run.exit_code == 0
    assert "NG239-DX-TOTAL" in run.stdout
    assert "https://www.bmj.com/content/385/bmj.q1019" in run.stdout
    assert "b12plan design rule" in run.stdout


def test_rules_as_json(cli: Cli) -> None:
    run = cli("rules", "us-common-practice", "--format", "json")
    rules = json.loads(run.stdout)
    assert rules["ruleset"]["id"] == "us-common-practice"
    assert "AFP-CYANO-1000" in {r["id"] for r in rules["rules"]}


def test_rules_of_an_unknown_rule_set(cli: Cli) -> None:
    _refused(cli("rules", "nice-ng240"), "ruleset", "nice-ng239")


def test_products(cli: Cli, catalogue: Any) -> None:
    run = cli("products")
    assert run.exit_code == 0
    for product_id in catalogue.ids():
        assert product_id in run.stdout  # the id is what a case names: shown whole
    listed = json.loads(cli("products", "--format", "json").stdout)
    assert [p["id"] for p in listed] == catalogue.ids()


def test_example(cli: Cli) -> None:
    run = cli("example")
    assert json.loads(run.stdout) == json.loads(services.example_case_text())


def test_version(cli: Cli) -> None:
    run = cli("--version")
    assert run.exit_code == 0
    assert run.stdout.strip() == f"b12plan {__version__}"


def test_no_command_shows_help(cli: Cli) -> None:
    run = cli()
    assert "Traceback" not in run.all_output
    assert "plan" in run.all_output
    assert "Usage" in run.all_output
