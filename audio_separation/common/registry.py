"""Extension by registration: trainers, envs, sensors and agents register themselves under a name.

A new trainer is added with `@registry.register_trainer(name="x")` in its own module; nothing else
needs editing. Modules that register are imported lazily by name through `_KNOWN_MODULES` so that
`main.py` never imports torch-heavy code it does not need.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

# Where each built-in registered name lives (imported on first lookup). Add a line when adding one.
_KNOWN_MODULES: dict[str, dict[str, str]] = {
    "trainer": {
        "world": "audio_separation.world_stage",
        "naf": "audio_separation.naf.trainer",
        "passive": "audio_separation.pretrain.trainer",
        "ddppo": "audio_separation.rl.trainer",
        "ppo": "audio_separation.rl.trainer",
    },
    "env": {
        "AudioSeparationEnv": "audio_separation.env.audio_separation_env",
    },
    "agent": {
        name: "audio_separation.env.agents"
        for name in ("random", "still", "rotate", "novelty", "heuristic", "approach")
    },
    "sensor": {
        "MIXED_BINAURAL_MAGNITUDE": "audio_separation.env.sensors",
        "MIXED_BINAURAL_PHASE": "audio_separation.env.sensors",
        "GT_MONO": "audio_separation.env.sensors",
        "GT_BINAURAL": "audio_separation.env.sensors",
        "TARGET_CLASS": "audio_separation.env.sensors",
        "POSE": "audio_separation.env.sensors",
        "RGB": "audio_separation.env.sensors",
        "DEPTH": "audio_separation.env.sensors",
    },
    # WORLD.RIR_SOURCE: where the env's binaural RIRs come from (an opener: .open(world, layout, scene, ...))
    "rir_source": {
        "wav": "audio_separation.world.rir_store",
        "naf": "audio_separation.naf.rir_source",
    },
}


class Registry:
    """Name -> class maps for each kind of pluggable component."""

    def __init__(self) -> None:
        self._maps: dict[str, dict[str, type]] = {kind: {} for kind in _KNOWN_MODULES}

    def _register(self, kind: str, name: str | None) -> Callable[[type], type]:
        def wrap(cls: type) -> type:
            key = name or cls.__name__
            existing = self._maps[kind].get(key)
            if existing is not None and existing is not cls:
                raise KeyError(f"{kind} {key!r} is already registered by {existing.__module__}.{existing.__name__}")
            self._maps[kind][key] = cls
            return cls

        return wrap

    def register_trainer(self, name: str | None = None) -> Callable[[type], type]:
        return self._register("trainer", name)

    def register_env(self, name: str | None = None) -> Callable[[type], type]:
        return self._register("env", name)

    def register_agent(self, name: str | None = None) -> Callable[[type], type]:
        return self._register("agent", name)

    def register_sensor(self, name: str | None = None) -> Callable[[type], type]:
        return self._register("sensor", name)

    def register_rir_source(self, name: str | None = None) -> Callable[[type], type]:
        return self._register("rir_source", name)

    def _get(self, kind: str, name: str) -> type:
        if name not in self._maps[kind] and name in _KNOWN_MODULES[kind]:
            importlib.import_module(_KNOWN_MODULES[kind][name])
        if name not in self._maps[kind]:
            known = sorted(set(self._maps[kind]) | set(_KNOWN_MODULES[kind]))
            raise KeyError(f"unknown {kind} {name!r}; registered: {known}")
        return self._maps[kind][name]

    def get_trainer(self, name: str) -> type:
        return self._get("trainer", name)

    def get_env(self, name: str) -> type:
        return self._get("env", name)

    def get_agent(self, name: str) -> type:
        return self._get("agent", name)

    def get_sensor(self, name: str) -> type:
        return self._get("sensor", name)

    def get_rir_source(self, name: str) -> type:
        return self._get("rir_source", name)

    def known(self, kind: str) -> list[str]:
        """Every name of a kind: registered or built in (not yet imported)."""
        return sorted(set(self._maps[kind]) | set(_KNOWN_MODULES[kind]))


registry = Registry()
