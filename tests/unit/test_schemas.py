"""The published contract (b12plan.case/1, b12plan.plan/1): valid JSON Schemas that hold the contract's
fields and vocabularies, and that the example cases and their plans satisfy. Also the curated public
surface: each module's `__all__` lists only names that exist."""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import b12plan.domain
from b12plan import services
from b12plan.errors import UserError
from b12plan.schemas import json_schema
from casekit import case_files, plan, read_case_file

CONTRACT_VOCABULARY = {
    "LabTest": [
        "b12_total",
        "holotc",
        "mma",
        "homocysteine",
        "hb",
        "mcv",
        "folate",
        "potassium",
        "reticulocytes",
        "ifab",
        "inr",
    ],
    "Symptom": [
        "fatigue",
        "glossitis",
        "breathlessness",
        "paraesthesia",
        "numbness",
        "ataxia",
        "vibration_loss",
        "proprioception_loss",
        "weakness",
        "cognitive",
        "psychiatric",
        "visual",
    ],
    "Cause": [
        "diet_vegan",
        "diet_low_animal",
        "autoimmune_gastritis",
        "gastrectomy",
        "bariatric_surgery",
        "ileal_resection",
        "crohns",
        "metformin",
        "ppi",
        "h2ra",
        "colchicine",
        "anticonvulsant",
        "nitrous_oxide",
        "unknown",
    ],
    "Condition": [
        "leber_optic_neuropathy",
        "cobalt_allergy",
        "b12_hypersensitivity",
        "anticoagulant",
        "bleeding_disorder",
        "renal_impairment",
        "myeloma",
        "hiv",
        "hormonal_contraception",
        "hrt",
        "biotin",
        "taking_folic_acid",
    ],
    "Formulation": ["hydroxocobalamin", "cyanocobalamin", "methylcobalamin"],
    "Sex": ["female", "male", "other"],
    "SymptomCourse": ["new", "stable", "improving", "worsening"],
}
SCHEMA_REFUSES = {"t34-unknown-symptom"}  # refused by the schema's vocabulary as well as by the CLI
CASES = case_files()


@pytest.mark.parametrize("which", ["case", "plan"])
def test_the_schemas_are_valid_json_schema(which: str) -> None:
    schema = json_schema(which)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"b12plan.{which}/1"


def test_an_unknown_schema_is_a_user_error() -> None:
    with pytest.raises(UserError, match="use case or plan"):
        json_schema("rules")


def test_the_case_schema_holds_the_contract() -> None:
    schema = json_schema("case")
    assert set(schema["properties"]) >= {
        "ruleset",
        "start_date",
        "patient",
        "labs",
        "symptoms",
        "symptom_course",
        "causes",
        "conditions",
        "treatment_started",
        "product",
        "preferences",
    }
    assert schema["required"] == ["patient"]
    defs = schema["$defs"]
    for name, codes in CONTRACT_VOCABULARY.items():
        assert set(codes) <= set(defs[name]["enum"]), name
    assert defs["Patient"]["required"] == ["age"]
    assert set(defs["LabInput"]["properties"]) >= {
        "test",
        "value",
        "unit",
        "date",
        "upper_limit",
        "lower_limit",
    }
    assert set(defs["Preferences"]["properties"]) == {"route", "maintenance_interval_days"}
    assert {"IM", "SC", "oral"} <= set(defs["Route"]["enum"])


def test_the_plan_schema_holds_the_contract() -> None:
    schema = json_schema("plan")
    assert set(schema["properties"]) >= {
        "schema",
        "ruleset",
        "assessment",
        "regimen",
        "events",
        "alerts",
        "reasons",
    }
    defs = schema["$defs"]
    assert set(defs["Assessment"]["properties"]) >= {
        "status",
        "neurological",
        "anaemia",
        "severe_anaemia",
        "urgent",
        "causes",
        "lifelong",
        "next_tests",
    }
    assert set(defs["Status"]["enum"]) == {
        "deficient",
        "indeterminate",
        "unlikely",
        "uninterpretable",
        "insufficient_data",
    }
    assert set(defs["Phase"]["properties"]) >= {
        "stage",
        "route",
        "dose_mcg",
        "volume_ml",
        "syringe_units",
        "interval_days",
        "doses",
        "until",
        "lifelong",
    }
    assert set(defs["Event"]["properties"]) >= {
        "date",
        "kind",
        "stage",
        "dose_mcg",
        "volume_ml",
        "tests",
        "note",
    }
    assert set(defs["EventKind"]["enum"]) == {"injection", "oral", "test", "review"}
    assert set(defs["AlertLevel"]["enum"]) == {"info", "warning", "critical"}
    assert set(defs["Alert"]["properties"]) >= {"code", "level", "message", "source"}
    assert set(defs["Reason"]["properties"]) >= {"rule", "source", "text"}


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_every_example_case_input_validates(
    path: Path, case_validator: jsonschema.Draft202012Validator
) -> None:
    doc = read_case_file(path)
    errors = list(case_validator.iter_errors(doc["input"]))
    if path.stem in SCHEMA_REFUSES:
        assert errors
    else:
        assert errors == [], [e.message for e in errors]


def test_loinc_aliases_are_in_the_case_schema(case_validator: jsonschema.Draft202012Validator) -> None:
    doc = {"patient": {"age": 40}, "labs": [{"test": "2132-9", "value": 120, "unit": "ng/L"}]}
    assert list(case_validator.iter_errors(doc)) == []
    doc["labs"][0]["test"] = "9999-9"
    assert list(case_validator.iter_errors(doc))


@pytest.mark.parametrize("path", [p for p in CASES if "expect" in read_case_file(p)], ids=lambda p: p.stem)
def test_every_example_plan_validates(path: Path, plan_validator: jsonschema.Draft202012Validator) -> None:
    p = plan(read_case_file(path)["input"])
    assert p["schema"] == "b12plan.plan/1"
    plan_validator.validate(p)


def test_the_shipped_example_case_validates_and_plans(
    case_validator: jsonschema.Draft202012Validator, plan_validator: jsonschema.Draft202012Validator
) -> None:
    doc = json.loads(services.example_case_text())
    case_validator.validate(doc)
    plan_validator.validate(plan(doc))


# -- the curated public surface ----------------------------------------------------------------------------


def _modules() -> list[str]:
    domain = [m.name for m in pkgutil.walk_packages(b12plan.domain.__path__, "b12plan.domain.")]
    return [*domain, "b12plan.errors", "b12plan.rulebook", "b12plan.schemas", "b12plan.services"]


@pytest.mark.parametrize("name", _modules())
def test_all_lists_only_names_that_exist(name: str) -> None:
    module = importlib.import_module(name)
    public: Any = getattr(module, "__all__", None)
    assert public is not None, f"{name} has no __all__"
    assert len(public) == len(set(public)), f"{name}: a name is listed twice"
    missing = [n for n in public if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ lists {missing}"


def test_the_public_surface_covers_the_planning_core() -> None:
    assert len(_modules()) >= 15
    assert "make_plan" in importlib.import_module("b12plan.domain.planner").__all__
    assert "select_regimen" in importlib.import_module("b12plan.domain.regimen").__all__
