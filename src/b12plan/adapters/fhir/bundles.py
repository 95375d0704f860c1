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
    """The files of a Bulk Data manifest. Accepts `error` (Bulk Data 1.0/2.0) and `outcome` (later drafts).

    A manifest that is not one (no `output` array, a file without a `url` string) is refused naming the
    field; `deleted` (resources deleted since `_since`) cannot be applied to a record and is refused too,
    rather than ignored."""

    def files(key: str) -> tuple[ManifestFile, ...]:
        listed = manifest.get(key)
        if listed is None:
            return ()
        if not isinstance(listed, list):
            raise UserError([FieldProblem(f"manifest.{key}", "must be an array of files")])
        out: list[ManifestFile] = []
        for i, f in enumerate(listed):
            if not isinstance(f, dict) or not isinstance(f.get("url"), str) or not f["url"]:
                raise UserError([FieldProblem(f"manifest.{key}[{i}]", "must be an object with a url")])
            out.append(ManifestFile(str(f.get("type") or ""), f["url"]))
        return tuple(out)

    if not isinstance(manifest.get("output"), list):
        raise UserError([FieldProblem("manifest.output", "must be an array of files")])
    if files("deleted"):
        raise UserError(
            [FieldProblem("manifest.deleted", "lists deleted resources; b12plan imports whole exports only")]
        )
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
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise UserError([FieldProblem("Bundle.entry", "must be an array")])
    out: list[JSON] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise UserError([FieldProblem(f"Bundle.entry[{i}]", "must be an object")])
        resource = entry.get("resource")
        if resource is None:
            continue  # a request or response entry carries no resource
        if not isinstance(resource, dict):
            raise UserError([FieldProblem(f"Bundle.entry[{i}].resource", "must be an object")])
        full_url = str(entry.get("fullUrl") or "")
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
