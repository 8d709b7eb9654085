"""NAF as the env's renderer: a scene's binaural RIRs predicted by its trained NAF (WORLD.RIR_SOURCE naf).

The env asks its RirSource for the RIR of (listener node, emitter node, heading) (audio/renderer.py);
this source answers from the scene's NAF checkpoint instead of the world's wav files:

1. the nodes' floor positions (points.txt x, y: the coordinates the NAF was trained on) and the heading
   index go through the model, which predicts the normalised log-magnitude STFT (2 ears, n_fft // 2
   bins, max_len frames: the scene's longest training RIR, since the true length of an unseen pair is
   unknown), de-normalised with the training statistics saved in the checkpoint (older checkpoints: the
   stats.npz under the checkpoint config's NAF.DATA_DIR);
2. a waveform is rebuilt with naf/phase.waveform_of_logmag and WORLD.NAF_PHASE: "minimum" (per-frame
   minimum phase, deterministic), "random" (uniform phase seeded by derive_seed(WORLD.NAF_PHASE_SEED,
   heading, listener, emitter): the same pair always gives the same RIR) or "griffin_lim" (from that
   seeded random phase, NAF.GRIFFIN_LIM_ITERATIONS of the checkpoint's config);
3. resampled (polyphase) from the NAF's NAF.SAMPLE_RATE to WORLD.RIR_SAMPLE_RATE when they differ, and
   returned as float32 (samples, 2).

Each RIR is predicted once per process and pair: the renderer keeps its spectrum in the byte-bounded
spectrum LRU (WORLD.RIR_CACHE_MB) under this source's cache_key (checkpoint file identity, phase
method, seed, rate). Inference runs on the CPU in no-grad mode. Only grid nodes are rendered (the
positions of points.txt); off-grid positions and moving sources are not supported yet.

Checkpoints: WORLD.NAF_CHECKPOINTS is a folder holding <scene>/data/ckpt.<N>.pth (the layout of
scripts/naf_world.py, or of one `--model-dir` per scene) or <scene>/ckpt.<N>.pth; the newest N is used.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import torch
from yacs.config import CfgNode

from audio_separation.common.checkpoint import latest_checkpoint, load_checkpoint
from audio_separation.common.errors import ProjectError
from audio_separation.common.registry import registry
from audio_separation.common.seeding import derive_seed
from audio_separation.naf.data import NafAudioParams, scene_data_dir
from audio_separation.naf.model import build_model
from audio_separation.naf.phase import waveform_of_logmag
from audio_separation.world.soundspaces import (
    HEADINGS,
    SoundSpacesLayout,
    WorldDataError,
    file_identity,
    read_points,
    resample,
)

logger = logging.getLogger("audio_separation")


class NafRendererError(ProjectError, RuntimeError):
    """No usable NAF checkpoint for a scene, or a query the NAF cannot answer."""


def find_checkpoint(root: str, scene: str) -> str:
    """The newest ckpt.<N>.pth of `scene` under WORLD.NAF_CHECKPOINTS (module docstring)."""
    tried = [os.path.join(root, scene, "data"), os.path.join(root, scene)]
    for folder in tried:
        if os.path.isdir(folder):
            path = latest_checkpoint(folder)
            if path is not None:
                return path
    raise NafRendererError(
        f"no NAF checkpoint for scene {scene!r}: no ckpt.<N>.pth in {' or '.join(tried)} "
        f"(WORLD.NAF_CHECKPOINTS={root}; train one with trainer 'naf' or scripts/naf_world.py)"
    )


@registry.register_rir_source(name="naf")
class NafRirSource:
    """A scene's binaural RIRs predicted by its NAF (module docstring); audio/renderer.RirSource."""

    def __init__(
        self,
        checkpoint: str,
        scene: str,
        node_xy: dict[int, tuple[float, float]],
        sample_rate: int,
        phase: str = "minimum",
        phase_seed: int = 0,
    ) -> None:
        payload = load_checkpoint(checkpoint)
        config = CfgNode.load_cfg(payload["config"]) if isinstance(payload["config"], str) else payload["config"]
        extra = payload.get("extra") or {}
        missing = [k for k in ("box", "num_headings", "num_freq_bins", "max_len") if k not in extra]
        if missing:
            raise NafRendererError(f"{checkpoint}: not a NAF checkpoint (extra lacks {missing})")
        trained_scene = str(config.NAF.SCENE)
        if trained_scene != scene:
            raise NafRendererError(f"{checkpoint} was trained on scene {trained_scene!r}, not {scene!r}")
        self.model = build_model(config, extra["box"], extra["num_headings"], extra["num_freq_bins"], extra["max_len"])
        self.model.load_state_dict(payload["model"])
        self.model.eval()
        if extra.get("stats_mean") is not None:
            mean, std = np.asarray(extra["stats_mean"]), np.asarray(extra["stats_std"])
        else:  # checkpoints written before the statistics were saved in them
            stats_path = os.path.join(scene_data_dir(config, scene), "stats.npz")
            if not os.path.isfile(stats_path):
                raise NafRendererError(
                    f"{checkpoint} holds no normalisation statistics and {stats_path} does not exist "
                    "(re-save the checkpoint with the current trainer, or rebuild the NAF data)"
                )
            stats = np.load(stats_path)
            mean, std = stats["mean"], stats["std"]
        self.max_len = int(extra["max_len"])
        self.scale = (float(config.NAF.STD_SCALE) * std[:, : self.max_len]).astype(np.float64)
        self.mean = mean[:, : self.max_len].astype(np.float64)
        self.headings = [int(h) % 360 for h in extra.get("headings", HEADINGS)]
        self.params = NafAudioParams.from_config(config)
        self.griffin_lim_iterations = int(config.NAF.GRIFFIN_LIM_ITERATIONS)
        self.scene, self.checkpoint, self.node_xy = scene, checkpoint, node_xy
        self.sample_rate, self.phase, self.phase_seed = int(sample_rate), str(phase), int(phase_seed)
        self.cache_key = (
            "naf",
            os.path.realpath(checkpoint),
            file_identity(checkpoint),
            scene,
            self.sample_rate,
            self.phase,
            self.phase_seed,
        )
        self.predictions = 0  # RIRs predicted (not served by the renderer's spectrum cache)

    @classmethod
    def open(
        cls, world, layout: SoundSpacesLayout, scene: str, headings: Sequence[int], audio_sample_rate: int | None
    ) -> NafRirSource:
        """The source of WorldSettings `world` (WORLD.NAF_CHECKPOINTS, NAF_PHASE, ...) for `scene`."""
        if audio_sample_rate is not None and int(world.rir_sample_rate) != int(audio_sample_rate):
            raise WorldDataError(
                f"WORLD.RIR_SAMPLE_RATE {world.rir_sample_rate} Hz != AUDIO.SAMPLE_RATE {audio_sample_rate} Hz"
            )
        if not world.naf_checkpoints:
            raise NafRendererError("WORLD.RIR_SOURCE naf needs WORLD.NAF_CHECKPOINTS")
        points = read_points(layout.points_path(scene))
        node_xy = {int(node): (float(p[0]), float(p[1])) for node, p in points.items()}
        source = cls(
            find_checkpoint(world.naf_checkpoints, scene),
            scene,
            node_xy,
            world.rir_sample_rate,
            world.naf_phase,
            world.naf_phase_seed,
        )
        unknown = [int(h) for h in headings if int(h) % 360 not in source.headings]
        if unknown:
            raise NafRendererError(f"{source.checkpoint}: headings {unknown} were not trained ({source.headings})")
        logger.info("%s: RIRs from the NAF %s (phase %s)", scene, source.checkpoint, source.phase)
        return source

    def _xy(self, node: int, role: str) -> tuple[float, float]:
        if int(node) not in self.node_xy:
            raise NafRendererError(f"{self.scene}: {role} node {node} has no position in points.txt")
        return self.node_xy[int(node)]

    @torch.no_grad()
    def logmag(self, receiver: int, source: int, heading: int) -> np.ndarray:
        """Predicted log(|STFT| + eps) of the pair: float64 (2 ears, n_fft // 2, max_len)."""
        heading = int(heading) % 360
        if heading not in self.headings:
            raise NafRendererError(f"{self.scene}: heading {heading} was not trained ({self.headings})")
        listener = torch.tensor([self._xy(receiver, "listener")], dtype=torch.float32)
        emitter = torch.tensor([self._xy(source, "emitter")], dtype=torch.float32)
        index = torch.tensor([self.headings.index(heading)], dtype=torch.long)
        normalised = self.model.predict_spectrogram(listener, emitter, index, self.max_len)[0].numpy()
        return normalised.astype(np.float64) * self.scale + self.mean

    def get(self, receiver: int, source: int, heading: int) -> np.ndarray:
        """The RIR heard at `receiver` facing `heading` from `source`: float32 (samples, 2) at sample_rate."""
        logmag = self.logmag(receiver, source, heading)
        seed = derive_seed(self.phase_seed, int(heading) % 360, int(receiver), int(source))
        waveform = waveform_of_logmag(
            logmag, self.params.stft_params, self.params.log_eps, self.phase, seed, self.griffin_lim_iterations
        )
        if self.params.sample_rate != self.sample_rate:
            waveform = resample(waveform, self.params.sample_rate, self.sample_rate, axis=-1)
        self.predictions += 1
        rir = np.ascontiguousarray(waveform.T, dtype=np.float32)
        if not np.all(np.isfinite(rir)):
            raise NafRendererError(f"{self.checkpoint}: non-finite RIR for ({receiver}, {source}, {heading})")
        return rir
