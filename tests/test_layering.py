"""Imports point one way (docs/architecture.md): front doors → services → models, kit imports
nothing of ours, and the domain packages form a stack where a package imports only the ones
below it, so no package imports one that imports it back, directly or through its folder.

Read from the source with `ast`, every import counted, including those inside functions.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = SRC / "reten"

# The domain packages, bottom first. A module of one may import a module of another only when
# that one is lower in this list; the ORM models are the exception (see `_is_model`).
STACK = (
    "auth",  # the permissions catalog, principals and tokens
    "audit",  # written by every administrative change, below the domains that record
    "api_keys",
    "users",
    "tenants",
    "commerces",
    "operators",
    "routes",
    "activity_config",
    "resolution",
    "activities",
    "results",
    "dispatch",
    "activity_detail",
    "integration",
)
# What sits below every domain: shared machinery, the settings and the metric series.
BASE = ("kit", "config", "metrics")
# Wiring and doors above everything: they may import any package.
TOP = ("app", "cli", "demo", "health", "models", "migrations", "apidocs", "admin", "startup")
# The SDK and the receiver helper stand apart: tests/client checks they import nothing of ours.
TOP += ("client", "receiver")
# `runtime` is what every router imports for its session: it sits with the base.
RUNTIME = "runtime"


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, e.g. reten.activities.service
    target: str  # the imported module, e.g. reten.kit.db
    line: int

    def __str__(self) -> str:
        path = self.source.replace(".", "/")
        return f"src/{path}.py:{self.line} imports {self.target}"


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _target(module: str, name: str) -> str:
    """`from reten.x import y`: y is a module when reten/x/y.py or reten/x/y/ exists."""
    candidate = SRC.joinpath(*module.split("."), name)
    if candidate.with_suffix(".py").exists() or candidate.is_dir():
        return f"{module}.{name}"
    return module


def imports() -> list[Import]:
    found: list[Import] = []
    for path in sorted(ROOT.rglob("*.py")):
        source = _module_of(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [_target(node.module, alias.name) for alias in node.names]
            else:
                continue
            found += [
                Import(source, t, node.lineno)
                for t in targets
                if t == "reten" or t.startswith("reten.")
            ]
    return found


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _leaf(module: str) -> str:
    return module.rsplit(".", 1)[-1]


def _is_front_door(module: str) -> bool:
    """Endpoints and the FastAPI dependency that resolves their caller: they may import any
    domain's services and schemas, and nothing below them imports them."""
    leaf = _leaf(module)
    return leaf == "router" or leaf.endswith("_router") or module == "reten.auth.dependencies"


def _is_model(module: str) -> bool:
    # The ORM models form one bottom layer: tables reference each other by foreign key, and any
    # service may read any table. Models themselves import only kit and other models.
    return _leaf(module) == "models" and _package(module) in STACK


def violations(found: list[Import]) -> list[str]:
    rank = {name: i for i, name in enumerate(STACK)}
    problems: list[str] = []
    for imp in dict.fromkeys(found):  # `from x import a, b` is one import of x
        src, dst = _package(imp.source), _package(imp.target)
        if src in BASE or imp.source == f"reten.{RUNTIME}":
            if dst not in BASE:
                problems.append(f"{imp}: {src or imp.source} imports nothing of ours above it")
            continue
        if _is_front_door(imp.target) and not _is_front_door(imp.source) and src not in TOP:
            problems.append(f"{imp}: only the app imports an endpoint module")
            continue
        if _leaf(imp.source) == "models" and src in STACK:
            # Models import kit, other models and their own package's enums (lifecycle.py).
            own_enums = dst == src and _leaf(imp.target) not in ("service", "schemas", "views")
            if not (_is_model(imp.target) or dst in BASE or own_enums):
                problems.append(f"{imp}: a models module imports only kit, models and enums")
            continue
        if src not in STACK or src == dst or _is_front_door(imp.source):
            continue
        if dst in STACK and rank[dst] > rank[src] and not _is_model(imp.target):
            problems.append(f"{imp}: {src} sits below {dst} in the stack")
        elif dst in TOP or dst == RUNTIME:
            problems.append(f"{imp}: a domain module imports the wiring ({dst})")
    return problems


class TestLayering:
    def test_imports_point_one_way(self) -> None:
        problems = violations(imports())
        assert not problems, "imports against the layering:\n" + "\n".join(problems)

    def test_every_package_has_a_place(self) -> None:
        packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
        modules = {p.stem for p in ROOT.glob("*.py") if p.stem != "__init__"}
        placed = set(STACK) | set(BASE) | set(TOP) | {RUNTIME}
        assert (packages | modules) - placed == set()

    @pytest.mark.parametrize(
        ("source", "target", "reason"),
        [
            ("reten.kit.db", "reten.activities.models", "nothing of ours"),
            ("reten.runtime", "reten.dispatch.actions", "nothing of ours"),
            ("reten.activities.service", "reten.dispatch.service", "sits below"),
            ("reten.resolution.service", "reten.activities.service", "sits below"),
            ("reten.activities.service", "reten.activities.router", "endpoint"),
            ("reten.results.service", "reten.auth.dependencies", "endpoint"),
            ("reten.activities.models", "reten.activities.service", "models module"),
            ("reten.users.service", "reten.app", "wiring"),
        ],
    )
    def test_the_rule_catches(self, source: str, target: str, reason: str) -> None:
        [problem] = violations([Import(source, target, 1)])
        assert reason in problem

    @pytest.mark.parametrize(
        ("source", "target"),
        [
            ("reten.activities.service", "reten.resolution.service"),
            ("reten.tenants.service", "reten.activities.models"),
            ("reten.activities.router", "reten.activity_detail.service"),
            ("reten.dispatch.models", "reten.kit.db"),
            ("reten.app", "reten.dispatch.actions"),
        ],
    )
    def test_the_rule_allows(self, source: str, target: str) -> None:
        assert violations([Import(source, target, 1)]) == []
