"""Jinja2 set up once for every config file sparkstack renders (services and the devcloud)."""

from __future__ import annotations

import shlex
from functools import cache

import jinja2


@cache
def environment(package: str) -> jinja2.Environment:
    """Templates of ``<package>/templates``: a missing variable is an error, not an empty string;
    block tags leave no blank lines; ``shquote`` quotes a value for the shell."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["shquote"] = lambda value: shlex.quote(str(value))
    return env
