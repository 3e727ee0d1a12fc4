"""Validate the CLI's JSON output against the schemas shipped in ``sparkstack/schemas``.

The schemas are package data (read with importlib.resources, as an installed sparkstack has
them), so tests check the very files users get. ``launch`` is a definition inside the describe
schema (the cluster without describe's keys), checked on its own so that a describe output
missing those keys is not taken for a launch output.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Literal

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match

Kind = Literal["describe", "launch", "list"]

#: kind -> (schema file, the definition the output must match; None: the file's root).
_WHERE: dict[str, tuple[str, str | None]] = {
    "describe": ("describe.schema.json", "#/$defs/describe"),
    "launch": ("describe.schema.json", "#/$defs/launch"),
    "list": ("list.schema.json", None),
}

_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def load(filename: str) -> dict[str, Any]:
    """One schema file as the installed package has it."""
    text = resources.files("sparkstack").joinpath("schemas", filename).read_text("utf-8")
    return dict(json.loads(text))


def _date_time(value: object) -> bool:
    """RFC 3339 with an offset (jsonschema checks date-time only with an extra package)."""
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _format_checker() -> FormatChecker:
    checker = FormatChecker()  # ipv4, ipv6... from the standard library
    checker.checks("date-time")(_date_time)
    return checker


@cache
def validator(kind: Kind) -> Draft202012Validator:
    filename, pointer = _WHERE[kind]
    schema = load(filename)
    Draft202012Validator.check_schema(schema)
    if pointer is not None:
        schema = {key: value for key, value in schema.items() if key != "oneOf"}
        schema["$ref"] = pointer
    return Draft202012Validator(schema, format_checker=_format_checker())


def errors(data: Any, kind: Kind) -> list[str]:
    """Every way ``data`` breaks the schema, as ``path: message`` lines (empty when valid)."""
    found = sorted(validator(kind).iter_errors(data), key=lambda e: list(map(str, e.path)))
    # a oneOf (a nullable object) fails as a whole: name the branch's own error instead
    leaves = [best_match([e]) for e in found]
    return [f"{e.json_path}: {_cut(e.message)}" for e in leaves]


def _cut(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate(data: Any, kind: Kind) -> None:
    """Raise AssertionError naming every problem when ``data`` is not valid ``kind`` output."""
    problems = errors(data, kind)
    if problems:
        raise AssertionError(f"{kind} output does not match its schema:\n" + "\n".join(problems))
