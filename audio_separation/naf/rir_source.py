"""NAF as the env's renderer: a scene's binaural RIRs predicted by its trained NAF (WORLD.RIR_SOURCE naf).

The env asks its RirSource for the RIR of (receiver, source, heading) (audio/renderer.py); this source
answers from the scene's NAF checkpoint instead of the world's wav files. Receiver and source are graph
nodes (their points.txt floor x, y: the coordinates the NAF was trained on) or continuous (x, y) floor
positions (off-grid: e.g. a moving source, TASK.SOURCE_MOTION); the heading must be one the NAF was
trained on (the grid's 4: the model has a learned latent per heading, nothing in between).

1. the positions and the heading index go through the model, which predicts the normalised log-magnitude
   STFT (2 ears, n_fft // 2 bins, max_len frames: the scene's longest training RIR, since the true
   length of an unseen pair is unknown), de-normalised with the training statistics saved in the
   checkpoint (older checkpoints: the stats.npz under the checkpoint config's NAF.DATA_DIR);
2. a waveform is rebuilt (naf/waveform_torch.py) with WORLD.NAF_PHASE: "minimum" (per-frame minimum
   phase, deterministic), "random" (uniform phase seeded by phase_seed_of: derive_seed(NAF_PHASE_SEED,
   heading, receiver, source), so the same query always gives the same RIR) or "griffin_lim" (from that
   seeded random phase, NAF.GRIFFIN_LIM_ITERATIONS of the checkpoint's config);
3. resampled (polyphase) from the NAF's NAF.SAMPLE_RATE to WORLD.RIR_SAMPLE_RATE when they differ, and
   returned as float32: (samples, 2) from get, (B, 2, samples) tensors from get_batch.

get_batch answers many queries in one model call and one batched rebuild on self.device (to_device: the
batched env moves the source to ENV.DEVICE); get is get_batch of one query on the CPU. Each RIR is
predicted once per process and query: the renderers keep its spectrum in their caches under this
source's cache_key (checkpoint file identity, phase method, seed, rate) and the query.

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
from audio_separation.naf.waveform_torch import waveforms_of_logmag
from audio_separation.world.soundspaces import (
    HEADINGS,
    SoundSpacesLayout,
    WorldDataError,
    file_identity,
    read_points,
    resample,
)

logger = logging.getLogger("audio_separation")

Point = int | tuple[float, float]  # a graph node (its points.txt position) or a continuous floor position (x, y)
Query = tuple[Point, Point, int]  # (receiver, source, heading in degrees)
QUERY_CHUNK = 256  # queries per model call (bounds the activations' memory)
POSITION_SEED_TAG = 1 << 40  # marks a continuous position in a random-phase seed (nodes are smaller)


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
        phase: str = "griffin_lim_minimum",
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
        self.device = torch.device("cpu")
        self._scale = torch.from_numpy((float(config.NAF.STD_SCALE) * std[:, : self.max_len]).astype(np.float64))
        self._mean = torch.from_numpy(mean[:, : self.max_len].astype(np.float64))
        self.headings = [int(h) % 360 for h in extra.get("headings", HEADINGS)]
        self.params = NafAudioParams.from_config(config)
        self.griffin_lim_iterations = int(config.NAF.GRIFFIN_LIM_ITERATIONS)
        self.config = config  # the checkpoint's (NAF.DATA_DIR: its training data and split)
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

    def to_device(self, device: torch.device | str) -> NafRirSource:
        """Run inference and the waveform rebuild on `device` from now on (the batched env's ENV.DEVICE)."""
        self.device = torch.device(device)
        self.model.to(self.device)
        self._mean = self._mean.to(self.device)
        self._scale = self._scale.to(self.device)
        return self

    def _xy(self, point: Point, role: str) -> tuple[float, float]:
        """A node's floor position (points.txt x, y), or a continuous (x, y) floor position as given."""
        if isinstance(point, (int, np.integer)):
            if int(point) not in self.node_xy:
                raise NafRendererError(f"{self.scene}: {role} node {point} has no position in points.txt")
            return self.node_xy[int(point)]
        x, y = (float(value) for value in point)
        if not (np.isfinite(x) and np.isfinite(y)):
            raise NafRendererError(f"{self.scene}: {role} position {point!r} is not finite")
        return x, y

    def _heading_index(self, heading: int) -> int:
        if int(heading) % 360 not in self.headings:
            raise NafRendererError(f"{self.scene}: heading {heading} was not trained ({self.headings})")
        return self.headings.index(int(heading) % 360)

    def phase_seed_of(self, receiver: Point, source: Point, heading: int) -> int:
        """The random phase's seed of a query: derive_seed(WORLD.NAF_PHASE_SEED, heading, receiver, source)
        for nodes; a continuous position enters as its millimetres (offset to be >= 0, tagged apart from nodes)."""
        return derive_seed(self.phase_seed, int(heading) % 360, *_seed_parts(receiver), *_seed_parts(source))

    @torch.no_grad()
    def predict_logmag(self, queries: Sequence[Query]) -> torch.Tensor:
        """Predicted log(|STFT| + eps) of (receiver, source, heading) queries: float64 (B, 2 ears,
        n_fft // 2, max_len) on self.device; receiver and source are nodes or (x, y) floor positions."""
        listener = torch.tensor([self._xy(r, "listener") for r, _, _ in queries], dtype=torch.float32)
        emitter = torch.tensor([self._xy(s, "emitter") for _, s, _ in queries], dtype=torch.float32)
        index = torch.tensor([self._heading_index(h) for _, _, h in queries], dtype=torch.long)
        parts = []
        for start in range(0, len(queries), QUERY_CHUNK):
            chunk = slice(start, start + QUERY_CHUNK)
            normalised = self.model.predict_spectrogram(
                listener[chunk].to(self.device),
                emitter[chunk].to(self.device),
                index[chunk].to(self.device),
                self.max_len,
            )
            parts.append(normalised.to(torch.float64) * self._scale + self._mean)
        return torch.cat(parts)

    def logmag(self, receiver: Point, source: Point, heading: int) -> np.ndarray:
        """Predicted log(|STFT| + eps) of one query: float64 (2 ears, n_fft // 2, max_len)."""
        return self.predict_logmag([(receiver, source, heading)])[0].cpu().numpy()

    def get_batch(self, queries: Sequence[Query]) -> torch.Tensor:
        """The RIRs of (receiver, source, heading) queries (nodes or (x, y) floor positions), as float32
        (B, 2, samples) at sample_rate on self.device: one batched prediction and waveform rebuild."""
        if not queries:
            raise ValueError("get_batch needs at least one query")
        rirs = self.rirs_of_logmag(self.predict_logmag(queries), [self.phase_seed_of(r, s, h) for r, s, h in queries])
        if not bool(torch.isfinite(rirs).all()):
            raise NafRendererError(f"{self.checkpoint}: non-finite RIR among {list(queries)[:4]}...")
        self.predictions += len(queries)
        return rirs

    def rirs_of_logmag(self, logmag: torch.Tensor, seeds: Sequence[int]) -> torch.Tensor:
        """Steps 2-3 of the module docstring: (B, 2, n_fft // 2, frames) log-magnitudes -> float32 (B, 2,
        samples) waveforms at sample_rate on logmag's device (also used to rebuild TRUE magnitudes the same
        way: naf/renderer_check.TrueMagnitudeRirSource)."""
        waveform = waveforms_of_logmag(
            logmag, self.params.stft_params, self.params.log_eps, self.phase, seeds, self.griffin_lim_iterations
        )
        if self.params.sample_rate != self.sample_rate:
            resampled = resample(waveform.cpu().numpy(), self.params.sample_rate, self.sample_rate, axis=-1)
            waveform = torch.from_numpy(np.ascontiguousarray(resampled)).to(logmag.device)
        return waveform.to(torch.float32)

    def get(self, receiver: Point, source: Point, heading: int) -> np.ndarray:
        """The RIR heard at `receiver` facing `heading` from `source` (nodes or (x, y) floor positions):
        float32 (samples, 2) at sample_rate."""
        rir = self.get_batch([(receiver, source, heading)])[0]
        return np.ascontiguousarray(rir.cpu().numpy().T)


def _seed_parts(point: Point) -> tuple[int, ...]:
    """A query point as non-negative integers for derive_seed: (node,) or (tag, x mm, y mm)."""
    if isinstance(point, (int, np.integer)):
        return (int(point),)
    return (POSITION_SEED_TAG, *(int(round(float(value) * 1000.0)) + 2**31 for value in point))
