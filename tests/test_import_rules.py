"""The import rules of docs/design.md ("Import rules") that import-linter's contracts do not state.

``make lint`` runs ``lint-imports`` on the contracts in pyproject.toml (layers, commands above the
algorithms beside them, no cycle between siblings). These tests add what the contracts cannot say:
no import cycle at all among the modules of ``fairseq_xdomain`` (a cycle through a package's
``__init__`` is not between siblings), and every module placed in a layer (a new top-level module
must be given one). Function-local imports count: grimp reads every import statement.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "fairseq_xdomain"


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, cache_dir=None)


def find_cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a self-import), each as a
    cycle through its modules in import order (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(imports):
        if start in index:
            continue
        work = [(start, iter(sorted(imports[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(imports.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in imports.get(node, ()):
                        components.append(_cycle_through(sorted(component), imports))
    return components


def _cycle_through(component: list[str], imports: dict[str, set[str]]) -> list[str]:
    """One cycle inside a strongly connected component, from its first module back to it."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:  # breadth-first: the shortest way back to start
        nxt = []
        for node in frontier:
            for child in sorted(imports.get(node, ())):
                if child == start:
                    return paths[node] + [start]
                if child in members and child not in paths:
                    paths[child] = paths[node] + [child]
                    nxt.append(child)
        frontier = nxt
    return component


def test_find_cycles_names_the_cycle():
    imports = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert find_cycles(imports) == [["a", "b", "c", "a"], ["e", "e"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package():
    graph = _graph()
    imports = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    cycles = find_cycles(imports)
    assert not cycles, "import cycles (module -> imported ...):\n" + "\n".join(
        " -> ".join(cycle) for cycle in cycles
    )


def _layer_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(
        c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "layers"
    )
    names = []
    for layer in contract["layers"]:
        for name in layer.replace("|", ":").split(":"):
            names.append(name.strip().strip("()"))
    return names


def test_every_module_is_in_a_layer():
    layers = _layer_modules()
    graph = _graph()
    unplaced = sorted(
        m
        for m in graph.modules
        if m != PACKAGE and not any(m == name or m.startswith(name + ".") for name in layers)
    )
    assert not unplaced, (
        f"modules in no layer of pyproject.toml's 'layers' contract (docs/design.md, "
        f"'Import rules'): {unplaced}"
    )
