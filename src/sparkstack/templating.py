"""Jinja2 set up once for every config file sparkstack renders (services and the devcloud).

Values from users and the cloud are data: a template puts them in through the filter for the
file's syntax, ``shquote`` for shell scripts, ``propvalue`` for Java properties files.
"""

from __future__ import annotations

import shlex
from functools import cache

import jinja2


def shquote(value: object) -> str:
    """One shell word, whatever ``value`` holds."""
    return shlex.quote(str(value))


def propvalue(value: object) -> str:
    """A value for a Java properties file (Spark's spark-defaults.conf): backslashes would start
    escapes and line continuations, leading blanks would be dropped, and a leading '=' or ':'
    would be read as the key's separator (after the blanks between), so all are escaped."""
    text = str(value).replace("\\", "\\\\")
    stripped = text.lstrip(" \t\f")
    lead = text[: len(text) - len(stripped)]
    escaped = "".join("\\" + c if c == " " else {"\t": "\\t", "\f": "\\f"}[c] for c in lead)
    if not lead and stripped.startswith(("=", ":")):
        escaped = "\\"
    for char, code in (("\n", "\\n"), ("\r", "\\r")):
        stripped = stripped.replace(char, code)
    return escaped + stripped


@cache
def environment(package: str) -> jinja2.Environment:
    """Templates of ``<package>/templates``: a missing variable is an error, not an empty string;
    block tags leave no blank lines."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["shquote"] = shquote
    env.filters["propvalue"] = propvalue
    return env
