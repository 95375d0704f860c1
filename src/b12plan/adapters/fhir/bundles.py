"""FHIR resources in the shapes they travel in: a Bundle, one resource, or Bulk Data NDJSON files.

Pure text-to-dicts readers; fetching the files of a Bulk Data manifest is the caller's I/O. The Bulk Data
manifest's error files are listed under `error` (Bulk Data 1.0/2.0) or `outcome` (later drafts): both read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from b12plan.errors import FieldProblem, UserError

__all__ = [
    "BulkManifest",
    "ManifestFile",
    "read_manifest",
    "read_resources",
    "resources_from_bundle",
    "resources_from_ndjson",
]

JSON = dict[str, Any]


@dataclass(frozen=True)
class ManifestFile:
    type: str
    url: str


@dataclass(frozen=True)
class BulkManifest:
    """A Bulk Data export manifest: NDJSON output files and error (OperationOutcome) files."""

    output: tuple[ManifestFile, ...]
    errors: tuple[ManifestFile, ...]


def read_manifest(manifest: Mapping[str, Any]) -> BulkManifest:
    """The files of a Bulk Data manifest. Accepts `error` (Bulk Data 1.0/2.0) and `outcome` (later drafts)."""

    def files(key: str) -> tuple[ManifestFile, ...]:
        return tuple(ManifestFile(str(f.get("type", "")), str(f["url"])) for f in manifest.get(key) or ())

    return BulkManifest(files("output"), files("error") + files("outcome"))


def resources_from_ndjson(lines: Iterable[str]) -> list[JSON]:
    """One resource per non-blank line; a line that is not a JSON object is refused with its number."""
    out: list[JSON] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            resource = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError([FieldProblem(f"line {number}", f"is not JSON ({exc.msg})")]) from None
        if not isinstance(resource, dict) or "resourceType" not in resource:
            raise UserError([FieldProblem(f"line {number}", "is not a FHIR resource")])
        out.append(resource)
    return out


def resources_from_bundle(bundle: Mapping[str, Any]) -> list[JSON]:
    """The resources of a Bundle (nested Bundles flattened); a lone resource gives itself.

    An entry resource without an id takes the uuid of its `urn:uuid:` fullUrl, so references by fullUrl
    still resolve.
    """
    if bundle.get("resourceType") != "Bundle":
        return [dict(bundle)]
    out: list[JSON] = []
    for entry in bundle.get("entry") or ():
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        full_url = str(entry.get("fullUrl", ""))
        if "id" not in resource and full_url.startswith("urn:uuid:"):
            resource = {**resource, "id": full_url.removeprefix("urn:uuid:")}
        out.extend(resources_from_bundle(resource))
    return out


def read_resources(text: str) -> list[JSON]:
    """Resources from the text of a Bundle, a single resource, or NDJSON."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return resources_from_ndjson(text.splitlines())
    if not isinstance(data, dict) or "resourceType" not in data:
        raise UserError([FieldProblem("input", "is not a FHIR resource, Bundle or NDJSON")])
    return resources_from_bundle(data)
