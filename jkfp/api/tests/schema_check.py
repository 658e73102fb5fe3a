"""Validate an API response against the committed ``docs/openapi.json``.

A small JSON Schema checker covering what django-ninja emits ($ref, type, properties, required,
items, anyOf, enum, pattern, format date, additionalProperties); enough to catch a response that
drifts from the documented shape. (jsonschema is not a dependency of the project.)
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from jkfp.api.openapi import SCHEMA_PATH

TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
    "null": type(None),
}


def committed_schema() -> dict[str, Any]:
    return dict(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = doc
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def problems(doc: dict[str, Any], schema: dict[str, Any], value: Any, path: str = "$") -> list[str]:
    """Every way ``value`` breaks ``schema`` (empty when it conforms)."""
    schema = _resolve(doc, schema)
    if "anyOf" in schema:
        options = [problems(doc, s, value, path) for s in schema["anyOf"]]
        return [] if any(not o for o in options) else [f"{path}: matches no anyOf option: {options}"]
    out: list[str] = []
    kind = schema.get("type")
    if kind is not None:
        expected = TYPES[kind]
        if not isinstance(value, expected) or (kind in {"integer", "number"} and isinstance(value, bool)):
            return [f"{path}: expected {kind}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{path}: {value!r} does not match {schema['pattern']}")
        if schema.get("format") == "date":
            try:
                date.fromisoformat(value)
            except ValueError:
                out.append(f"{path}: {value!r} is not a date")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                out.append(f"{path}: missing required {name}")
        for name, item in value.items():
            if name in properties:
                out += problems(doc, properties[name], item, f"{path}.{name}")
            elif schema.get("additionalProperties") is False or properties:
                # ninja's object schemas list every property: an undocumented key is drift.
                out.append(f"{path}: undocumented key {name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += problems(doc, schema["items"], item, f"{path}[{i}]")
    return out


def assert_matches_schema(response: Any, method: str, template: str) -> None:
    """The response's status is documented for ``method template`` and its JSON body conforms."""
    doc = committed_schema()
    operation = doc["paths"][template][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {template}: status {status} not documented"
    content = operation["responses"][status].get("content", {}).get("application/json")
    assert content is not None, f"{method} {template} {status}: no JSON body documented"
    found = problems(doc, content["schema"], json.loads(response.content))
    assert not found, found
