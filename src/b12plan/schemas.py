"""The published JSON Schemas of the contract: `b12plan schema case|plan`."""

from __future__ import annotations

from typing import Any

from b12plan.domain.case import CASE_SCHEMA_ID, Case
from b12plan.domain.codes import LOINC_ALIASES
from b12plan.domain.plan import PLAN_SCHEMA_ID, Plan
from b12plan.errors import UserError

__all__ = ["json_schema"]


def json_schema(which: str) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of `case` or `plan`."""
    if which == "case":
        schema = Case.model_json_schema()
        schema["$id"] = CASE_SCHEMA_ID
        # CONTRACT: `labs[].test` is our code or its LOINC code; the model turns an alias into our code.
        test = schema["$defs"]["LabInput"]["properties"]["test"]
        test["anyOf"] = [{"$ref": test.pop("$ref")}, {"type": "string", "enum": sorted(LOINC_ALIASES)}]
    elif which == "plan":
        schema = Plan.model_json_schema(by_alias=True, mode="serialization")
        schema["$id"] = PLAN_SCHEMA_ID
    else:
        raise UserError(f"schema: {which!r} is not a schema; use case or plan")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
