"""Which packages may use which: the head-end knows nothing of the simulator, and one meter's
parts know nothing of the fleet built from them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bijli

SRC = Path(bijli.__file__).parent


def imports_of(package: str) -> dict[str, set[str]]:
    """Each module of the package, with the modules it imports (at any depth of its code)."""
    found = {}
    for path in sorted((SRC / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        found[str(path.relative_to(SRC))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("headend", ("bijli.fleet", "bijli.meter")),
        ("meter", ("bijli.fleet",)),
        ("protocol", ("bijli.fleet", "bijli.meter", "bijli.headend")),
    ],
)
def test_a_package_does_not_import_what_is_built_on_it(package: str, forbidden: tuple[str, ...]) -> None:
    def is_forbidden(name: str) -> bool:
        return any(name == f or name.startswith(f + ".") for f in forbidden)

    offending = {
        module: sorted(filter(is_forbidden, names))
        for module, names in imports_of(package).items()
        if any(map(is_forbidden, names))
    }
    assert offending == {}
