"""The packages import each other in one direction only: config at the bottom (it reads the
registries through trainlab.registry, never by importing a component), runs below training,
training below experiments. Every import counts, those inside functions too."""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src" / "trainlab"


def imports() -> dict[str, set[str]]:
    """Package (or top-level module) -> the trainlab packages and modules it imports."""
    edges: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("").parts
        unit = rel[1]
        package = list(rel[:-1] if path.name == "__init__.py" else rel[:-1])
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    here = list(rel[:-1]) if path.name != "__init__.py" else list(rel[:-1])
                    module = here[: len(here) - node.level + 1] + (node.module or "").split(".")
                    module = [m for m in module if m]
                else:
                    module = (node.module or "").split(".")
                if module[:1] != ["trainlab"]:
                    continue
                targets = module[1:2] or [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [
                    a.name.split(".")[1] for a in node.names if a.name.startswith("trainlab.")
                ]
            else:
                continue
            edges[unit].update(t for t in targets if t != unit)
        del package
    return edges


def test_no_package_import_cycle():
    edges = imports()
    state: dict[str, int] = {}

    def visit(unit: str, path: list[str]) -> None:
        if state.get(unit) == 1:
            raise AssertionError("import cycle: " + " -> ".join(path + [unit]))
        if state.get(unit) == 2:
            return
        state[unit] = 1
        for other in sorted(edges.get(unit, ())):
            visit(other, path + [unit])
        state[unit] = 2

    for unit in sorted(edges):
        visit(unit, [])


def test_the_layers():
    edges = imports()
    assert edges["config"] <= {"errors", "registry", "imports"}, edges["config"]
    for component in ("data", "models", "optim"):
        assert not edges[component] & {"config", "training", "build", "api", "experiments"}, (
            component
        )
    assert not edges["runs"] & {"training", "build", "experiments", "api"}, edges["runs"]
    assert not edges["training"] & {
        "config",
        "build",
        "distributed",
        "experiments",
        "claims",
        "api",
        "cli",
    }, edges["training"]
    assert "experiments" not in edges["distributed"] | edges["build"]
