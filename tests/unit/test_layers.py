"""The package's shape, checked: layers import downward only, no import cycles, services never
import each other, and only settings.py reads the environment.

Imports inside functions count as much as those at the top (a cycle broken by a late import is
still a cycle); `if TYPE_CHECKING:` imports count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "kafkalab"

LAYERS: dict[str, int] = {
    # the bottom: values and data every layer may read
    "errors": 0,
    "settings": 0,
    "connection": 0,
    "content": 0,
    "catalogue": 0,
    "processes": 0,
    "localhttp": 0,
    "verdict": 0,
    "exercise": 0,
    "explained": 0,
    "__init__": 0,
    # clients built from a Connection; events, schemas and their serde
    "clients": 1,
    "events": 1,
    "security": 2,
    # the real Kafka we run, the registry, resolving a connection
    "cluster": 3,
    # the services, and reading Kafka back: side by side, neither imports the other
    "services": 4,
    "observe": 4,
    "monitoring": 5,
    "platform": 6,
    "ui": 7,
    "load": 8,
    "chaos": 8,
    "scenarios": 8,
    "curriculum": 8,
    "doctor": 8,
    "console": 8,  # the web console: pages over the observers, buttons that run the drivers
    "cli": 9,
    "__main__": 10,
}
SIDE_BY_SIDE = {frozenset({"services", "observe"})}
SERVICES = {"user", "order", "inventory", "payment", "notification", "analytics"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("kafkalab"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    out.add(full if full in MODULES else node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("kafkalab")}
    return out


GRAPH = {name: _imports(path) & set(MODULES) for name, path in MODULES.items()}


def _layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_top_level_module_has_a_layer() -> None:
    assert {_layer_of(m) for m in MODULES} <= set(LAYERS)


def test_layers_import_downward_only() -> None:
    upward = []
    for module, targets in GRAPH.items():
        for target in targets:
            a, b = _layer_of(module), _layer_of(target)
            if a == b:
                continue
            if LAYERS[b] > LAYERS[a] or frozenset({a, b}) in SIDE_BY_SIDE:
                upward.append(f"{module} → {target}")
    assert not upward, "\n".join(sorted(upward))


def test_services_never_import_each_other() -> None:
    crossing = []
    for module, targets in GRAPH.items():
        parts = module.split(".")
        if len(parts) < 3 or parts[1] != "services" or parts[2] not in SERVICES:
            continue
        for target in targets:
            other = target.split(".")
            if len(other) > 2 and other[1] == "services" and other[2] in SERVICES - {parts[2]}:
                crossing.append(f"{module} → {target}")
    assert not crossing, crossing


def test_there_is_no_import_cycle() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in GRAPH:
        if module not in index:
            visit(module)
    assert not cycles, cycles


def test_only_settings_reads_the_environment() -> None:
    readers = []
    for module, path in MODULES.items():
        if module == "kafkalab.settings":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            text = ast.unparse(node) if isinstance(node, (ast.Call, ast.Subscript)) else ""
            if ("os.environ" in text or "os.getenv" in text) and "KAFKALAB_" in text:
                readers.append(f"{module}: {text[:80]}")
    assert not readers, readers
