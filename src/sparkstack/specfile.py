"""Reading a cluster file as untrusted input: plain YAML data and where each value sits.

A cluster file may come from anywhere, so it is read under limits: a size cap, UTF-8 only, no
YAML tags (``!!python/...``), no anchors or aliases (the "billion laughs" bomb), bounded nesting
and number of values, one document, no duplicate keys. What comes back is plain dicts, lists and
scalars, plus the line and column of every value, so a later error can point at the spot in the
file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sparkstack.errors import SpecError

MAX_BYTES = 1 << 20
MAX_DEPTH = 16
#: Keys and values in one file; the largest valid cluster file has about 2200. YAML is parsed
#: at some 30000 values a second: a megabyte of ``[a,a,a,...]`` is refused early, not read.
MAX_VALUES = 10_000

#: A path into the data: mapping keys and list indexes, as pydantic reports error locations.
Location = tuple[str | int, ...]


@dataclass(frozen=True)
class SpecFile:
    """The data of a cluster file and the (line, column) of each value, both 1-based."""

    path: Path
    data: dict[str, Any]
    marks: dict[Location, tuple[int, int]]

    def where(self, loc: Location) -> str:
        """``file:line:col`` of the value at ``loc`` (or of its nearest parent)."""
        for size in range(len(loc), -1, -1):
            mark = self.marks.get(loc[:size])
            if mark:
                return f"{self.path}:{mark[0]}:{mark[1]}"
        return str(self.path)


class _Refused(Exception):
    """Raised while composing; carries a message and the YAML mark where it happened."""

    def __init__(self, message: str, mark: Any):
        super().__init__(message)
        self.mark = mark


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses tags, anchors, aliases, deep nesting and too many values
    while composing."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._values = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Refused(
                "anchors and aliases (&name, *name) are not allowed in cluster files",
                event.start_mark,
            )
        if getattr(event, "tag", None) not in (None, "!"):
            raise _Refused(
                f"YAML tags such as {event.tag} are not allowed in cluster files",  # type: ignore[attr-defined]
                event.start_mark,
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        self._values += 1
        if self._values > MAX_VALUES:
            raise _Refused(f"more than {MAX_VALUES} keys and values", event.start_mark)
        try:
            return Composer.compose_node(self, parent, index)
        finally:
            self._depth -= 1


def _position(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1)


def _plain(
    loader: _StrictLoader, node: Node, loc: Location, marks: dict[Location, tuple[int, int]]
) -> Any:
    """Plain data from a composed node, recording marks and refusing duplicate keys."""
    marks[loc] = _position(node.start_mark)
    if isinstance(node, MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise _Refused(
                    "a key must be a plain word, not a list or a mapping", key_node.start_mark
                )
            # the key as written: `on`, `~` or `1` name a setting, they are not True, None, 1
            key = key_node.value
            if key in result:
                raise _Refused(f"duplicate key {key!r}", key_node.start_mark)
            result[key] = _plain(loader, value_node, (*loc, key), marks)
        return result
    if isinstance(node, SequenceNode):
        return [_plain(loader, item, (*loc, i), marks) for i, item in enumerate(node.value)]
    # a scalar, resolved by YAML 1.1's safe schema (str, int, float, bool, null, timestamp)
    return loader.construct_object(node)


def _at(text: str, index: int) -> str:
    """``line:col`` (1-based, in characters, as YAML marks count) of ``text[index]``."""
    line = text.count("\n", 0, index) + 1
    column = index - text.rfind("\n", 0, index)
    return f"{line}:{column}"


def read_spec_file(path: Path) -> SpecFile:
    """Read and check ``path``; a SpecError names the file, line and column of the problem."""
    too_big = f"a cluster file is at most {MAX_BYTES} bytes"
    try:
        if not path.is_file():
            why = "not a regular file" if path.exists() else "no such file"
            raise SpecError(f"cannot read cluster file {path}: {why}")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SpecError(f"{path}: {size} bytes; {too_big}")
        with path.open("rb") as handle:  # /proc files say 0 bytes and hold more: read no more
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read cluster file {path}: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise SpecError(f"{path}: more than {MAX_BYTES} bytes; {too_big}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        valid = raw[: exc.start].decode("utf-8")
        raise SpecError(
            f"{path}:{_at(valid, len(valid))}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    if "\x00" in text:
        at = _at(text, text.index("\x00"))
        raise SpecError(f"{path}:{at}: holds a NUL byte; a cluster file is YAML text")
    marks: dict[Location, tuple[int, int]] = {}
    try:
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            data = _plain(loader, node, (), marks) if node is not None else {}
        finally:
            loader.dispose()
    except _Refused as exc:
        line, col = _position(exc.mark)
        raise SpecError(f"{path}:{line}:{col}: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SpecError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:
        raise SpecError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a cluster file is a mapping of settings (key: value lines)")
    return SpecFile(path, data, marks)
