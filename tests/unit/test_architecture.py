"""The arrows between the layers, read from the imports: no cycles, and nothing reaches back up
or across (the cloud layer knows no SSH, services know no cloud, the product never imports its
test bed, the library never imports the CLI)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SRC = Path(__file__).resolve().parents[2] / "src"


def _graph() -> dict[str, set[str]]:
    """module -> the sparkstack modules it imports (the devcloud's server side runs elsewhere)."""
    modules = {}
    for path in (SRC / "sparkstack").rglob("*.py"):
        if "devcloud/server" in path.as_posix():
            continue
        name = ".".join(path.with_suffix("").relative_to(SRC).parts).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != "sparkstack"}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle, if there is any (depth-first search)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_no_import_cycles() -> None:
    assert _cycle(_graph()) == []


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [
        ("sparkstack.cloud", ("sparkstack.nodes", "sparkstack.services", "sparkstack.api")),
        ("sparkstack.nodes", ("sparkstack.cloud", "sparkstack.services", "sparkstack.api")),
        ("sparkstack.services", ("sparkstack.cloud", "sparkstack.api")),
        ("sparkstack.api", ("sparkstack.cli", "sparkstack.devcloud")),
        ("sparkstack.spec", ("sparkstack.cloud", "sparkstack.nodes", "sparkstack.services")),
    ],
)
def test_layers_only_import_downwards(source: str, forbidden: tuple[str, ...]) -> None:
    graph = _graph()
    wrong = sorted(
        (a, b) for a in graph if a.startswith(source) for b in graph[a] if b.startswith(forbidden)
    )
    assert wrong == []


def test_the_product_never_imports_its_test_bed() -> None:
    graph = _graph()
    test_bed = ("sparkstack.devcloud",)
    allowed = ("sparkstack.devcloud", "sparkstack.cli.devcloud", "sparkstack.cli.main")
    wrong = sorted(
        (a, b)
        for a in graph
        if not a.startswith(allowed)
        for b in graph[a]
        if b.startswith(test_bed)
    )
    assert wrong == []


def test_the_api_knows_no_service_by_name() -> None:
    """Spark's paths, ports and settings live in services/spark.py, not in the API."""
    graph = _graph()
    assert sorted(a for a in graph if a.startswith("sparkstack.api") and
                  "sparkstack.services.spark" in graph[a]) == []  # fmt: skip
