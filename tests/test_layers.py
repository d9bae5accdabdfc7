"""The packages of blobrl import downwards only, and never in a circle (docs/design.md, Layers).

Every ``import`` of every module counts, top-level and inside functions alike: a lazy import is
still a dependency, and hiding one in a function is how cycles used to creep in.
"""

from __future__ import annotations

import ast
import collections
from dataclasses import dataclass
from pathlib import Path

import blobrl

# The one layer table: a unit (a subpackage of blobrl, or a module at the package top) may import
# units of its own layer or below, never above. Keep docs/design.md's Layers section in step.
LAYERS: dict[str, int] = {
    # 0: the rules
    "blobrl": 0,  # the package's own __init__ (imports nothing)
    "game": 0,
    # 1: built on the rules alone
    "mcts": 1,
    "nn": 1,
    "data": 1,  # the data contract: game records, the position codec, the run states
    "remote": 1,  # calls between actors, local or Ray (typed handles)
    # 2: the components
    "config": 2,  # composes the settings the components own (learner.LearnerConfig, ...)
    "replay": 2,
    "selfplay": 2,
    "learner": 2,
    "checkpoint": 2,
    "evaluation": 2,
    "agents": 2,
    "telemetry": 2,
    "inference": 2,  # the InferenceServer's batcher, codec and client, without Ray
    # 3: the run, without Ray: ledger, fleet, pipeline, evaluations, records, control
    "run": 3,
    # 4: the actors, and the benchmarks that drive them
    "actors": 4,
    "bench": 4,
    # 5: entry points
    "api": 5,
    "launch": 5,
    "evaluate": 5,
    "export": 5,
    "play": 5,
    "soak": 5,
    "status": 5,
    "tools": 5,  # operational tools (soak)
}

PACKAGE = Path(blobrl.__file__).parent
ROOT = PACKAGE.parent


@dataclass(frozen=True)
class Import:
    source: str  # unit of the importing module
    target: str  # unit of the imported module
    module: str  # the imported module, dotted
    where: str  # file:line of the import statement


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _unit(module: str) -> str:
    """``blobrl.replay.buffer`` -> ``replay``; ``blobrl.status`` -> ``status``; ``blobrl``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level == 0:
        return [node.module or ""]
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return [".".join([*base, node.module] if node.module else base)]


def _imports() -> list[Import]:
    """Every import of a blobrl module by a module of another unit."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _imported(node, module, path.name == "__init__.py"):
                if target != "blobrl" and not target.startswith("blobrl."):
                    continue
                source_unit, target_unit = _unit(module), _unit(target)
                if source_unit != target_unit:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.append(Import(source_unit, target_unit, target, where))
    return found


def _units() -> set[str]:
    return {_unit(_module_name(path)) for path in PACKAGE.rglob("*.py")}


def test_every_unit_has_a_layer():
    units = _units()
    missing, gone = sorted(units - LAYERS.keys()), sorted(LAYERS.keys() - units)
    assert not missing, f"give these units of blobrl a layer in LAYERS: {missing}"
    assert not gone, f"LAYERS names units that blobrl no longer has: {gone}"


def test_no_unit_imports_from_a_layer_above_its_own():
    wrong = [
        f"{i.where}: {i.source} (layer {LAYERS[i.source]}) imports {i.module} "
        f"({i.target}, layer {LAYERS[i.target]})"
        for i in _imports()
        if i.source in LAYERS and i.target in LAYERS and LAYERS[i.target] > LAYERS[i.source]
    ]
    assert not wrong, "imports from a higher layer:\n" + "\n".join(wrong)


def _cycle_through(start: str, edges: dict[str, dict[str, Import]]) -> list[Import] | None:
    """The shortest chain of imports from ``start`` back to itself, or None."""
    came_by: dict[str, Import] = {}
    frontier = collections.deque([start])
    while frontier:
        unit = frontier.popleft()
        for target, imp in sorted(edges[unit].items()):
            if target == start:
                chain = [imp]
                while chain[0].source != start:
                    chain.insert(0, came_by[chain[0].source])
                return chain
            if target not in came_by:
                came_by[target] = imp
                frontier.append(target)
    return None


def test_units_import_each_other_in_no_cycle():
    edges: dict[str, dict[str, Import]] = collections.defaultdict(dict)
    for imp in _imports():
        edges[imp.source].setdefault(imp.target, imp)  # the first import names the edge
    cycles, seen = [], set()
    for unit in sorted(edges):
        chain = _cycle_through(unit, edges)
        if chain is not None and frozenset(i.source for i in chain) not in seen:
            seen.add(frozenset(i.source for i in chain))
            steps = "\n".join(f"  {i.where}: {i.source} imports {i.module}" for i in chain)
            cycles.append(" -> ".join([*(i.source for i in chain), unit]) + "\n" + steps)
    assert not cycles, "import cycles between units of blobrl:\n" + "\n".join(cycles)
