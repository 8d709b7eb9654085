"""The house rules that code can check: one-way imports between layers, and no import cycles.

Layer order (ARCHITECTURE.md): a module imports only from its own layer or the layers before it.
Imports under `if TYPE_CHECKING:` are annotations only and do not count.
"""

from __future__ import annotations

import ast
import os

import networkx as nx

PACKAGE = "audio_separation"
ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), PACKAGE)
LAYERS = ["common", "config", "audio", "world", "run_context", "world_stage", "env", "models", "pretrain", "rl", "naf"]


def _modules() -> dict[str, str]:
    """Dotted module name -> file path of every module in the package."""
    found = {}
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, os.path.dirname(ROOT))[: -len(".py")].replace(os.sep, ".")
                found[relative.removesuffix(".__init__")] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: str, module: str, known: set[str]) -> set[str]:
    """Package modules imported anywhere in the file (function bodies too), TYPE_CHECKING blocks aside."""
    tree = ast.parse(open(path).read(), path)
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node)
        for stmt in node.body
        for child in ast.walk(stmt)
    }
    targets: set[str] = set()
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rsplit(".", 1)[0] if "." in name else ""
            if name and name != module and name != PACKAGE:
                targets.add(name)
    return targets


def _graph() -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    for module, path in modules.items():
        graph.add_node(module)
        for target in _imports(path, module, set(modules)):
            graph.add_edge(module, target)
    return graph


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_package_folder_has_a_layer() -> None:
    unplaced = sorted({m.split(".")[1] for m in _modules() if m != PACKAGE and _layer(m) is None})
    assert not unplaced, f"add {unplaced} to LAYERS here and in ARCHITECTURE.md"


def test_imports_only_go_to_earlier_layers() -> None:
    upward = [
        f"{source} -> {target}"
        for source, target in _graph().edges
        if _layer(target) is not None and _layer(source) is not None and _layer(target) > _layer(source)
    ]
    assert not upward, "imports against the layer order:\n" + "\n".join(sorted(upward))


def test_no_import_cycles() -> None:
    cycles = list(nx.simple_cycles(_graph()))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join([*cycle, cycle[0]]) for cycle in cycles)


def test_the_checker_sees_function_level_imports(tmp_path) -> None:
    source = tmp_path / "module.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from audio_separation.rl import trainer\n"
        "def f():\n    from audio_separation.naf import model\n"
    )
    known = {"audio_separation.rl.trainer", "audio_separation.naf.model", "audio_separation.env.x"}
    assert _imports(str(source), "audio_separation.env.x", known) == {"audio_separation.naf.model"}
