"""Swift's naming rules and the ``CONTAINER[/PATH]`` and ``--segment-size`` notations."""

from __future__ import annotations

import pytest

from sparkstack import validation
from sparkstack.api.data import split_target

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [("c", ("c", "")), ("c/", ("c", "")), ("c/a/b.txt", ("c", "a/b.txt")), ("/x", ("", "x"))],
)
def test_a_target_splits_at_its_first_slash(text: str, expected: tuple[str, str]) -> None:
    assert split_target(text) == expected


@pytest.mark.parametrize(
    ("text", "size"),
    [("1", 1), ("64MiB", 64 << 20), ("64M", 64 << 20), ("1gib", 1 << 30), ("2 KB", 2048)],
)
def test_sizes_read_in_powers_of_two(text: str, size: int) -> None:
    assert validation.byte_size(text) == size


@pytest.mark.parametrize("text", ["0", "-1", "1.5G", "lots", "", "1PiB"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="positive number of bytes"):
        validation.byte_size(text)


def test_names_are_counted_in_bytes_of_utf8() -> None:
    assert validation.container_name("é" * 128) == "é" * 128
    with pytest.raises(ValueError, match="1 to 256 bytes"):
        validation.container_name("é" * 129)
    assert validation.object_name("a/" * 512) == "a/" * 512
    with pytest.raises(ValueError, match="1 to 1024 bytes"):
        validation.object_name("é" * 513)


@pytest.mark.parametrize("bad", ["a\nb", "nul\x00", "tab\there", "sep\u2028"])
def test_control_characters_are_refused_in_both(bad: str) -> None:
    for check in (validation.container_name, validation.object_name):
        with pytest.raises(ValueError, match="newlines or control characters"):
            check(bad)
