"""Pytest fixture factory for SSH test hosts (sparkstack.devcloud.testhosts).

Use from any test module (tests/ is on sys.path through its conftest.py):

    from testhosts_fixture import testbed_fixture
    testbed = testbed_fixture(3)               # module-scoped fixture named `testbed`

Tests using it should be marked ``testhosts``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sparkstack.devcloud.testhosts import TestBed, test_hosts


def testbed_fixture(
    count: int, *, prefix: str = "ssth", subnet: str = "198.18.250.0/24", scope: str = "module"
) -> Callable[..., Any]:
    """A fixture that starts ``count`` test hosts for its scope and tears them down after."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload]
    def _testbed() -> Iterator[TestBed]:
        with test_hosts(count, prefix=prefix, subnet=subnet) as bed:
            yield bed

    return _testbed
