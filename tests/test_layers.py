"""The package's imports point one way: app/CLI -> ui -> predictor -> factory -> model -> parts.

Read from the source (every import statement, those inside functions and under TYPE_CHECKING included), so a
deferred import cannot hide a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "videoexpert"

# what the model is built from; none of them may import anything above the model
PARTS = {"compress", "config", "errors", "experts", "head", "loss", "prompts", "result", "spans", "video", "vision"}
ABOVE_MODEL = {"model", "factory", "predictor", "cli", "train", "convert", "tasks"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def facade() -> dict[str, str]:
    """Names `videoexpert/__init__.py` re-exports -> the module that defines them (its imports and lazy `_LAZY` map)."""
    out = {}
    for node in ast.parse((PACKAGE / "__init__.py").read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            out.update({alias.name: node.module for alias in node.names})
        elif isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_LAZY":
            out.update({name: module.lstrip(".") for name, module in ast.literal_eval(node.value).items()})
    return out


def imports_of(path: Path, modules: set[str], reexports: dict[str, str]) -> set[str]:
    """The package modules `path` imports (`from . import x` counts as importing module x when x is one, and a
    name the package re-exports as importing the module that defines it)."""
    here = module_name(path).split(".") if path.name != "__init__.py" else module_name(path).split(".") + [""]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level]
                target = ".".join([p for p in base if p] + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("videoexpert"):
                target = node.module[len("videoexpert."):] if node.module != "videoexpert" else ""
            else:
                continue
            for alias in node.names:
                candidate = f"{target}.{alias.name}" if target else alias.name
                if candidate in modules:
                    found.add(candidate)
                elif not target and alias.name in reexports:
                    found.add(reexports[alias.name])
                elif target in modules:
                    found.add(target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("videoexpert."):
                    name = alias.name[len("videoexpert."):]
                    if name in modules:
                        found.add(name)
    found.discard(module_name(path))
    return found


def import_graph() -> dict[str, set[str]]:
    files = [p for p in PACKAGE.rglob("*.py")]
    modules = {module_name(p) for p in files} - {""}
    reexports = facade()
    return {module_name(p): imports_of(p, modules, reexports) for p in files if module_name(p)}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_is_read():
    graph = import_graph()
    assert {"model", "predictor", "factory"} <= set(graph)
    assert "model" in graph["factory"] and "factory" in graph["predictor"]
    assert "predictor" in graph["cli"]          # `from . import Predictor`, through the package's facade


def test_no_circle_in_the_package():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_model_imports_only_its_parts():
    assert import_graph()["model"] <= PARTS


def test_no_part_imports_the_model_or_anything_above_it():
    graph = import_graph()
    for part in PARTS & set(graph):
        assert not graph[part] & ABOVE_MODEL, f"{part} imports {sorted(graph[part] & ABOVE_MODEL)}"


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
