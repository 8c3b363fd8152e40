"""The package's shape, as rules the source must keep: no cycle between top-level packages,
domain areas in one order, and no I/O library (nor adapter, web or entry point) imported by
the domain. The import graph is read from the source, every ``import`` at any depth."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "bijli"

DOMAIN_ORDER = (
    "kernel",
    "protocol",
    "alerts",
    "prepaid",
    "mdm",
    "headend",
    "payments",
    "accounts",
    "supply",
    "network",
    "vigilance",
    "access",
)
"""Domain areas, lowest first: an area imports only those before it (and itself)."""
DOMAIN = frozenset(DOMAIN_ORDER)
"""Pure rules and the use cases over ports."""
EDGES = frozenset(
    {"adapters", "web", "entrypoints", "bootstrap", "settings", "benchmarks", "cli", "serve", "demo", "meter", "fleet"}
)
"""What the domain must never import: the edges, and the simulator (the meter twin's parts
in `meter`, the fleet built from them in `fleet`)."""
SIMULATOR_MAY_NOT = {
    "meter": frozenset({"fleet", "adapters", "web", "entrypoints", "bootstrap"}),
    "fleet": frozenset({"web", "entrypoints"}),
}
"""One meter's parts know nothing of the fleet built from them, nor of the platform's edges."""
IO_LIBRARIES = frozenset(
    {
        "sqlalchemy",
        "psycopg",
        "alembic",
        "paho",
        "aiomqtt",
        "amqtt",
        "nats",
        "fastapi",
        "starlette",
        "uvicorn",
        "httpx",
        "jinja2",
        "typer",
        "rich",
        "socket",
        "subprocess",
    }
)
DRIVERS = frozenset({"sqlalchemy", "psycopg", "alembic"})
"""Only `bijli.adapters` touches a connection or an engine."""


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    package = _module(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    return {_module(p): _imports(p) for p in sorted(SRC.rglob("*.py")) if "migrations" not in p.parts}


GRAPH = _graph()


def _top(module: str) -> str:
    """The top-level package (or module) of bijli a module is in."""
    return module.split(".")[1]


def _bijli(imports: set[str]) -> set[str]:
    return {i for i in imports if i.startswith("bijli.") and len(i.split(".")) > 1}


def test_the_import_graph_is_read_from_every_module() -> None:
    assert {"bijli.headend.handlers", "bijli.adapters.db.store", "bijli.mdm.vee"} <= set(GRAPH)
    assert "bijli.mdm.ports" in GRAPH["bijli.headend.handlers"] or any(
        i.startswith("bijli.mdm") for i in GRAPH["bijli.headend.handlers"]
    )


def _package_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, imports in GRAPH.items():
        if module == "bijli":
            continue
        for target in _bijli(imports):
            if target.split(".")[1] in {_top(m) for m in GRAPH if m != "bijli"} and _top(target) != _top(module):
                edges[_top(module)].add(_top(target))
    return edges


def test_no_cycle_between_top_level_packages() -> None:
    edges = _package_edges()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                pytest.fail("import cycle between packages: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


@pytest.mark.parametrize("area", sorted(DOMAIN))
def test_a_domain_area_imports_no_io_library_and_no_edge(area: str) -> None:
    wrong = []
    for module, imports in GRAPH.items():
        if module == "bijli" or _top(module) != area:
            continue
        for target in sorted(imports):
            root = target.split(".")[0]
            if root in IO_LIBRARIES or (root == "bijli" and _top(target) in EDGES):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("area", DOMAIN_ORDER)
def test_a_domain_area_imports_only_the_areas_below_it(area: str) -> None:
    allowed = set(DOMAIN_ORDER[: DOMAIN_ORDER.index(area) + 1])
    wrong = [
        f"{module} imports {target}"
        for module, imports in GRAPH.items()
        if module != "bijli" and _top(module) == area
        for target in sorted(_bijli(imports))
        if _top(target) in DOMAIN and _top(target) not in allowed
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", sorted(SIMULATOR_MAY_NOT))
def test_the_simulator_imports_nothing_built_on_it(package: str) -> None:
    wrong = [
        f"{module} imports {target}"
        for module, imports in GRAPH.items()
        if module != "bijli" and _top(module) == package
        for target in sorted(_bijli(imports))
        if _top(target) in SIMULATOR_MAY_NOT[package]
    ]
    assert not wrong, "\n".join(wrong)


def test_only_the_adapters_touch_a_database_driver() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, imports in GRAPH.items()
        if module != "bijli" and _top(module) not in {"adapters", "benchmarks"}
        for target in sorted(imports)
        if target.split(".")[0] in DRIVERS
    ]
    assert not wrong, "\n".join(wrong)


def test_no_module_is_over_500_lines() -> None:
    long = [
        f"{p.relative_to(SRC)}: {n} lines"
        for p in sorted(SRC.rglob("*.py"))
        if "migrations" not in p.parts and (n := len(p.read_text().splitlines())) > 500
    ]
    assert not long, "\n".join(long)
