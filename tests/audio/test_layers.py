"""audio/ sits below world/ and env/: the renderer and the episode metrics import neither."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import audio_separation

AUDIO_DIR = os.path.join(os.path.dirname(audio_separation.__file__), "audio")
HIGHER_LAYERS = ("world", "env", "models", "pretrain", "rl", "naf")


def imported_modules(path: str) -> set[str]:
    tree = ast.parse(open(path).read(), filename=path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_audio_modules_import_no_higher_layer() -> None:
    for name in sorted(os.listdir(AUDIO_DIR)):
        if not name.endswith(".py"):
            continue
        for module in imported_modules(os.path.join(AUDIO_DIR, name)):
            parts = module.split(".")
            assert not (parts[0] == "audio_separation" and len(parts) > 1 and parts[1] in HIGHER_LAYERS), (
                f"audio/{name} imports {module}"
            )


def test_renderer_loads_no_world_or_env_module() -> None:
    code = (
        "import sys, audio_separation.audio.renderer, audio_separation.audio.episode_metrics;"
        "print(sorted(m for m in sys.modules if m.startswith(('audio_separation.world', 'audio_separation.env'))))"
    )
    root = os.path.dirname(os.path.dirname(audio_separation.__file__))  # this checkout, not another install
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment
    ).stdout
    assert output.strip() == "[]"
