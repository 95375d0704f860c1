"""The layout is the architecture: imports point one way (STYLE.md).

domain <- rulebook <- services.planning <- store <- services (records ...) <- adapters <- cli, web. The pure
core never does I/O.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "b12plan"

# package -> b12plan packages (or dotted modules) it must never import
FORBIDDEN = {
    "domain": {"rulebook", "services", "store", "adapters", "cli", "web", "screening"},
    "adapters": {
        "cli",
        "web",
        "store",
        "services.records",
        "services.record_files",
        "services.fhir_import",
        "services.accounts",
        "services.as_user",
        "services.overviews",
    },
    "store": {"cli", "web", "adapters", "services"},
    "services": {"cli", "web"},
}
# modules the pure core must not import at all (I/O, clock, network)
IMPURE = {
    "os",
    "pathlib",
    "sqlite3",
    "sqlalchemy",
    "subprocess",
    "socket",
    "requests",
    "httpx",
    "builtins.open",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules(package: str) -> list[Path]:
    root = SRC / package
    return sorted(root.rglob("*.py")) if root.is_dir() else []


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package: str) -> None:
    bad: list[str] = []
    for path in _modules(package):
        for name in _imports(path):
            parts = name.split(".")
            inside = ".".join(parts[1:])
            if parts[0] == "b12plan" and any(
                inside == banned or inside.startswith(banned + ".") for banned in FORBIDDEN[package]
            ):
                bad.append(f"{path.relative_to(SRC)} imports {name}")
    assert not bad, "\n".join(bad)


def test_domain_is_pure() -> None:
    bad: list[str] = []
    for path in _modules("domain"):
        for name in _imports(path):
            if name.split(".")[0] in IMPURE:
                bad.append(f"{path.relative_to(SRC)} imports {name}")
        text = path.read_text(encoding="utf-8")
        for call in ("date.today(", "datetime.now(", "open(", "read_text("):
            if call in text:
                bad.append(f"{path.relative_to(SRC)} calls {call}")
    assert not bad, "\n".join(bad)


def test_domain_modules_stay_small() -> None:
    """STYLE.md: review past 400 lines, split past 800."""
    too_big = [p.name for p in _modules("domain") if len(p.read_text(encoding="utf-8").splitlines()) > 800]
    assert not too_big
