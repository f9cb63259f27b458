"""The package's structure as a newcomer draws it from the imports: floors, no circles, one step.

Every import counts, also one written inside a function: an import placed there to dodge a
circle is still a circle in the design.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "mattinglib"

#: The floors above the library's core, lowest first; a module may import from its own floor
#: and the ones below, never from a floor above. Every module not named here is the core (data,
#: labels, losses, metrics, models, configuration, I/O, classical baselines, tiling, the DDC prior).
FLOORS = (
    ("assembly", ("mattinglib.build", "mattinglib.checkpoints", "mattinglib.evaluate")),
    ("training", ("mattinglib.train",)),
    ("commands", ("mattinglib.own_images", "mattinglib.predict", "mattinglib.matte", "mattinglib.make_trimaps",
                  "mattinglib.onnx_export", "mattinglib.cli_train", "mattinglib.__main__", "mattinglib.bench")),
    ("study", ("mattinglib.study",)),
)


def module_name(path: Path, root: Path = REPO) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str], root: Path = REPO) -> set[str]:
    """The package's modules that ``path`` imports, anywhere in the file (relative imports
    resolved; ``from package import module`` names the module, not the package)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names} & modules
            found |= submodules or ({base} & modules)
    return found - {name}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    paths = {module_name(path, package.parent): path for path in package.rglob("*.py")
             if "__pycache__" not in path.parts}
    modules = set(paths)
    return {name: imported_modules(path, modules, package.parent) for name, path in paths.items()}


def floor_of(module: str) -> int:
    for level, (_, prefixes) in enumerate(FLOORS, start=1):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return level
    return 0


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: strongly connected sets of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle():
    assert circles(import_graph()) == []


def test_the_circle_check_sees_one_inside_a_function(tmp_path):
    package = tmp_path / "mattinglib"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import f\n")
    (package / "b.py").write_text("def f():\n    from . import a\n")
    assert circles(import_graph(package)) == [["mattinglib.a", "mattinglib.b"]]


def test_no_import_runs_up_a_floor():
    upward = sorted(f"{module} (floor {floor_of(module)}) imports {target} (floor {floor_of(target)})"
                    for module, targets in import_graph().items() for target in targets
                    if floor_of(target) > floor_of(module))
    assert upward == []


def test_the_floors_name_existing_modules():
    modules = set(import_graph())
    for _, prefixes in FLOORS:
        for prefix in prefixes:
            assert prefix in modules, prefix


def test_one_training_step():
    # The loop, the own-images estimate and the benchmarks all take train.train_step.
    stepping = sorted(path.relative_to(REPO).as_posix() for path in PACKAGE.rglob("*.py")
                      if "optimizer.step()" in path.read_text())
    assert stepping == ["mattinglib/train.py"]


def test_no_module_is_over_500_lines():
    long = {path.relative_to(REPO).as_posix(): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text().splitlines())) > 500}
    assert not long, long


@pytest.mark.parametrize("folder", ["mattinglib", "notebooks", "docs", "README.md", "results/README.md"])
def test_nothing_cites_files_outside_the_repository(folder):
    root = REPO / folder
    paths = [root] if root.is_file() else [p for p in root.rglob("*") if p.suffix in {".py", ".md", ".ipynb"}]
    citing = sorted(path.relative_to(REPO).as_posix() for path in paths
                    if re.search(r"SPEC\.md|MEASURED\.md|\.\./shared", path.read_text(encoding="utf-8")))
    assert citing == []
