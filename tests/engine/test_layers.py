"""The engine's shape: layers that import only downwards, no import cycle, no private names.

Every import counts, at module level, inside a function or under ``TYPE_CHECKING``: a cycle
closed by a late import is still a cycle for whoever reads or changes the code.
"""
import ast
from pathlib import Path

import wfnb

PACKAGE = Path(wfnb.__file__).parent
# lowest first; a module may import its own layer and those below it, never one above
LAYERS = ["core", "model", "store", "steps", "execution", "services", "api"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str) -> list[tuple[str, list[str], int]]:
    """(imported wfnb module, names taken from it, line) for every import in the module."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # `from pkg import module` imports the module
                sub = f"{target}.{alias.name}"
                found.append((sub, [], node.lineno) if sub in MODULES
                             else (target, [alias.name], node.lineno))
    return [(t, names, line) for t, names, line in found if t in MODULES and t != name]


GRAPH = {name: imports(name) for name in MODULES}


def layer(name: str) -> int | None:
    parts = name.split(".")
    if parts[:2] != ["wfnb", "engine"] or len(parts) < 3:
        return None
    return LAYERS.index(parts[2]) if parts[2] in LAYERS else None


def test_every_engine_module_belongs_to_a_layer():
    loose = [n for n in MODULES if n.startswith("wfnb.engine.") and layer(n) is None]
    assert loose == []


def test_no_engine_module_imports_a_higher_layer():
    upward = [f"{MODULES[n].relative_to(PACKAGE.parent)}:{line} imports {target} "
              f"({LAYERS[layer(n)]} -> {LAYERS[layer(target)]})"
              for n in GRAPH if layer(n) is not None
              for target, _, line in GRAPH[n]
              if layer(target) is not None and layer(target) > layer(n)]
    assert upward == []


def test_the_engine_imports_nothing_of_wfnb_outside_it():
    out = [f"{n} imports {t}" for n in GRAPH if n.startswith("wfnb.engine")
           for t, _, _ in GRAPH[n] if not t.startswith("wfnb.engine")]
    assert out == []


def test_no_import_cycle():
    # Tarjan's strongly connected components over module -> imported module
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target, _, _ in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))
    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    assert cycles == []


def test_no_module_takes_a_private_name_from_another():
    taken = [f"{MODULES[n].relative_to(PACKAGE.parent)}:{line} takes {target}.{name}"
             for n in GRAPH for target, names, line in GRAPH[n] for name in names
             if name.startswith("_") and not name.startswith("__")]
    assert taken == []


def test_the_checks_see_what_they_check():
    # the graph is the real one: the facade reaches every layer, the layers are all there
    assert {LAYERS[layer(n)] for n in MODULES if layer(n) is not None} == set(LAYERS)
    assert "wfnb.engine.core.errors" in {t for t, _, _ in GRAPH["wfnb.engine.api"]}
