"""The layout holds: layers between the packages, and no import cycle, lazy imports included.

Layers (an arrow reads "may be imported by"):

    harness_common  <-  target_app, stack  <-  loadtests  <-  slo     (bench, tests: anything)

and inside slo:  spec  <-  judge  <-  live  <-  alerting  <-  cockpit, experiment  <-  commands.

Every `import` and `from ... import` anywhere in a module counts, inside functions too: a lazy
import is still a dependency, it only hides the cycle until the day it bites.
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("harness_common", "target_app", "stack", "loadtests", "slo", "bench")
MAY_IMPORT = {
    "harness_common": set(),
    "target_app": {"harness_common"},
    "stack": {"harness_common"},
    "loadtests": {"harness_common", "stack"},
    "slo": {"harness_common", "stack", "loadtests"},
    "bench": set(PACKAGES),
}
SLO_LAYERS = {  # slo subpackage -> the slo subpackages it may import
    "spec": set(),
    "judge": {"spec"},
    "live": {"spec", "judge"},
    "alerting": {"spec", "judge", "live"},
    "cockpit": {"spec", "judge", "live", "alerting"},
    "experiment": {"spec", "judge", "live", "alerting"},
    "init": {"spec", "judge"},
    "commands": {"spec", "judge", "live", "alerting", "cockpit", "experiment", "init"},
}
SLO_TOP_MAX = 10   # slo/ itself keeps only the CLI and what every subpackage shares


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "__pycache__" not in path.parts:
                out[module_name(path)] = path
    return out


MODULES = all_modules()


def resolve(name: str) -> str | None:
    """The module of ours that `name` (a module or a name inside one) refers to."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    """Every module of ours that `module` imports, anywhere in its body."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                     for alias in node.names]
        else:
            continue
        for name in names:
            target = resolve(name)
            if target is not None and target != module:
                found.add(target)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def collapse(graph: dict[str, set[str]], key) -> dict[str, set[str]]:
    """The graph between groups of modules (key(module) -> group, None: left out)."""
    out: dict[str, set[str]] = {}
    for module, targets in graph.items():
        group = key(module)
        if group is None:
            continue
        out.setdefault(group, set())
        for target in targets:
            other = key(target)
            if other is not None and other != group:
                out[group].add(other)
    return out


def top(module: str) -> str:
    return module.split(".")[0]


def slo_sub(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "slo" or len(parts) < 2 or f"slo.{parts[1]}" not in MODULES:
        return None
    return parts[1] if (REPO / "slo" / parts[1]).is_dir() else None


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back_through_others():
    assert cycles(GRAPH) == []


def test_no_cycle_between_packages():
    assert cycles(collapse(GRAPH, top)) == []
    assert cycles(collapse(GRAPH, slo_sub)) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_the_layers_below_it(package):
    wrong = sorted(f"{module} -> {target}" for module, targets in GRAPH.items()
                   if top(module) == package for target in targets
                   if top(target) != package and top(target) not in MAY_IMPORT[package])
    assert wrong == []


def test_slo_subpackages_import_only_the_layers_below_them():
    wrong = sorted(f"{module} -> {target}" for module, targets in GRAPH.items()
                   if slo_sub(module) in SLO_LAYERS for target in targets
                   if slo_sub(target) not in (None, slo_sub(module))
                   and slo_sub(target) not in SLO_LAYERS[slo_sub(module)])
    assert wrong == []


def test_nothing_imports_the_system_under_test_for_plumbing():
    users = sorted(f"{module} -> {target}" for module, targets in GRAPH.items()
                   if top(module) not in ("target_app", "bench") for target in targets
                   if top(target) == "target_app")
    assert users == []


def test_slo_keeps_few_modules_at_its_top():
    modules = sorted(p.name for p in (REPO / "slo").glob("*.py"))
    assert len(modules) <= SLO_TOP_MAX, modules
