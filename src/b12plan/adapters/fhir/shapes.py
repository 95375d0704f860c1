"""The JSON types of the FHIR R4 fields the importer reads, checked before it reads them.

Input from another system can hold anything: `"code": "2132-9"` where FHIR has a CodeableConcept, a
number where it has a string. The importer reads a resource only when every field it uses has its R4 JSON
type; otherwise the resource is reported (type/id and the field) and left out, never half-read and never a
crash. Fields b12plan does not read are not checked, and JSON `null` counts as absent.

A shape is `"string"`, `"number"`, `"boolean"`, an object shape (field -> shape) or a one-item list (an
array of that shape).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeAlias

__all__ = ["READ_FIELDS", "shape_problem"]

Shape: TypeAlias = str | dict[str, "Shape"] | list["Shape"]

_CODING: Shape = {"system": "string", "code": "string", "display": "string"}
_CONCEPT: Shape = {"coding": [_CODING], "text": "string"}
_REFERENCE: Shape = {"reference": "string"}
_QUANTITY: Shape = {
    "value": "number",
    "comparator": "string",
    "unit": "string",
    "system": "string",
    "code": "string",
}
_PERIOD: Shape = {"start": "string", "end": "string"}
_COMMON: dict[str, Shape] = {
    "resourceType": "string",
    "id": "string",
    "subject": _REFERENCE,
    "patient": _REFERENCE,
}
_MEDICINE: dict[str, Shape] = {
    "status": "string",
    "medicationCodeableConcept": _CONCEPT,
    "medicationReference": _REFERENCE,
    "contained": [{"resourceType": "string", "id": "string", "code": _CONCEPT}],
    "effectiveDateTime": "string",
    "effectivePeriod": _PERIOD,
}

READ_FIELDS: Mapping[str, dict[str, Shape]] = {
    "Patient": {"birthDate": "string", "gender": "string"},
    "Observation": {
        "status": "string",
        "code": _CONCEPT,
        "valueQuantity": _QUANTITY,
        "valueCodeableConcept": _CONCEPT,
        "valueString": "string",
        "dataAbsentReason": _CONCEPT,
        "interpretation": [_CONCEPT],
        "referenceRange": [{"low": _QUANTITY, "high": _QUANTITY}],
        "effectiveDateTime": "string",
        "effectivePeriod": _PERIOD,
        "effectiveInstant": "string",
    },
    "Condition": {"code": _CONCEPT, "clinicalStatus": _CONCEPT, "verificationStatus": _CONCEPT},
    "Procedure": {"code": _CONCEPT, "status": "string"},
    "MedicationStatement": _MEDICINE,
    "MedicationAdministration": _MEDICINE,
    "Medication": {"code": _CONCEPT},
    "AllergyIntolerance": {
        "code": _CONCEPT,
        "clinicalStatus": _CONCEPT,
        "verificationStatus": _CONCEPT,
        "reaction": [{"substance": _CONCEPT}],
    },
    "OperationOutcome": {"issue": [{"severity": "string", "code": "string", "diagnostics": "string"}]},
}
"""Per resource type, the fields the importer reads and their R4 JSON shapes (plus `_COMMON`)."""


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _problem(value: Any, shape: Shape, path: str) -> str | None:
    if value is None:
        return None
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{path} is {_kind(value)}, not an array"
        for i, item in enumerate(value):
            if (found := _problem(item, shape[0], f"{path}[{i}]")) is not None:
                return found
        return None
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f"{path} is {_kind(value)}, not an object"
        for key, inner in shape.items():
            if (found := _problem(value.get(key), inner, f"{path}.{key}")) is not None:
                return found
        return None
    if shape == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{path} is {_kind(value)}, not a number"
        # A huge JSON integer does not fit a float (OverflowError): no lab value is anywhere near 1e300.
        if abs(value) > 1e300 or not math.isfinite(value):
            return f"{path} is not a finite number"
        return None
    if shape == "boolean":
        return None if isinstance(value, bool) else f"{path} is {_kind(value)}, not a boolean"
    return None if isinstance(value, str) else f"{path} is {_kind(value)}, not a string"


def shape_problem(resource: Mapping[str, Any]) -> str | None:
    """The first field b12plan reads whose JSON type is not R4's (`code.coding[0]` is a string, not an
    object), or None when every field it reads has its R4 shape."""
    fields = {**_COMMON, **READ_FIELDS.get(str(resource.get("resourceType")), {})}
    for key, shape in fields.items():
        if (found := _problem(resource.get(key), shape, key)) is not None:
            return found
    return None
