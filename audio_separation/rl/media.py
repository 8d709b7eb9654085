"""What a person listens to and looks at after evaluation: per-episode wavs, a PNG, an mp4, and an
index.html per evaluation run.

Waveforms are rebuilt second by second with the project's inverse STFT (audio/stft.reconstruct_waveform)
and concatenated (20 s for a 20-step episode):
    mixture.wav   binaural mixture the agent heard (its magnitude with its own phase), 2 channels
    target.wav    the target's ground truth (dry mono, each second at the env's target RMS)
    estimate.wav  the final refined estimate, with the ground-truth phase (what the metrics score) or the
                  mixture's phase (EVAL.ESTIMATE_PHASE "mixture": what a deployed system could play)
Each file is scaled to a peak of 0.9 and written as 16-bit PCM (every browser plays it).
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import soundfile  # noqa: E402

from audio_separation.audio.stft import StftParams, reconstruct_waveform  # noqa: E402
from audio_separation.world.floorplan import FloorPlan  # noqa: E402
from audio_separation.world.soundspaces import SoundSpacesLayout, habitat_to_mesh, read_points  # noqa: E402


def waveform_seconds(magnitude: np.ndarray, phase: np.ndarray, params: StftParams, step_samples: int) -> np.ndarray:
    """(steps, ..., F, T) magnitude and phase -> (..., steps x step_samples) waveform, second by second."""
    chunks = reconstruct_waveform(magnitude, phase, params, length=step_samples)  # (steps, ..., samples)
    return np.concatenate(list(chunks), axis=-1)


def write_wav(path: str, signal: np.ndarray, sample_rate: int) -> None:
    """(channels, samples) or (samples,) float -> 16-bit PCM wav at a peak of 0.9."""
    signal = np.asarray(signal, dtype=np.float64)
    peak = float(np.max(np.abs(signal))) if signal.size else 0.0
    scaled = signal * (0.9 / peak) if peak > 0 else signal
    soundfile.write(path, scaled.T if scaled.ndim == 2 else scaled, sample_rate, subtype="PCM_16")


def mixture_phase_mono(mixed_phase: np.ndarray) -> np.ndarray:
    """(..., F, T, 2) ear phases -> (..., F, T) phase of the ears' sum."""
    return np.angle(np.exp(1j * mixed_phase[..., 0]) + np.exp(1j * mixed_phase[..., 1])).astype(np.float32)


def write_wavs(
    folder: str,
    episode: dict[str, np.ndarray],
    params: StftParams,
    sample_rate: int,
    step_samples: int,
    estimate_phase: str,
) -> dict[str, str]:
    """mixture.wav, target.wav, estimate.wav of one episode (arrays (steps, F, T[, 2])); returns name -> file."""
    mixture_magnitude = np.expm1(episode["mixed_magnitude"]).transpose(0, 3, 1, 2)  # (steps, 2, F, T)
    mixture_phase = episode["mixed_phase"].transpose(0, 3, 1, 2)
    if estimate_phase not in ("target", "mixture"):
        raise ValueError(f"EVAL.ESTIMATE_PHASE must be 'target' or 'mixture', got {estimate_phase!r}")
    phase = episode["gt_phase"] if estimate_phase == "target" else mixture_phase_mono(episode["mixed_phase"])
    files = {"mixture": "mixture.wav", "target": "target.wav", "estimate": "estimate.wav"}
    write_wav(
        os.path.join(folder, files["mixture"]),
        waveform_seconds(mixture_magnitude, mixture_phase, params, step_samples),
        sample_rate,
    )
    write_wav(
        os.path.join(folder, files["target"]),
        waveform_seconds(episode["gt_mono"], episode["gt_phase"], params, step_samples),
        sample_rate,
    )
    write_wav(
        os.path.join(folder, files["estimate"]),
        waveform_seconds(episode["refined"], phase, params, step_samples),
        sample_rate,
    )
    return files


def _spectrogram_strip(steps: np.ndarray) -> np.ndarray:
    """(steps, F, T) -> (F, steps x T) log1p magnitudes side by side."""
    return np.log1p(np.concatenate(list(np.maximum(steps, 0.0)), axis=-1))


def write_summary_png(
    path: str,
    episode: dict[str, np.ndarray],
    trajectory: list[dict],
    layout: SoundSpacesLayout,
    scene: str,
    source_positions: list[list[float]],
    title: str,
) -> None:
    """Spectrograms over the episode (mixture, target, passive, refined) and the trajectory on the floor plan."""
    rows = [
        (
            "binaural mixture (mean of ears, log1p)",
            np.concatenate(list(episode["mixed_magnitude"].mean(axis=-1)), axis=-1),
        ),
        ("target ground truth", _spectrogram_strip(episode["gt_mono"])),
        ("passive estimate", _spectrogram_strip(episode["passive"])),
        ("refined estimate (final)", _spectrogram_strip(episode["refined"])),
    ]
    frames = episode["gt_mono"].shape[-1]
    figure = plt.figure(figsize=(16, 9))
    # fixed margins (what tight_layout chose for this figure), not tight_layout: a third of the PNG's time
    grid = figure.add_gridspec(len(rows), 3, left=0.045, right=0.985, bottom=0.065, top=0.92, hspace=0.35, wspace=0.2)
    shared_vmax = max(float(np.percentile(strip, 99.5)) for _, strip in rows[1:])  # target and estimates on one scale
    for index, (name, strip) in enumerate(rows):
        axes = figure.add_subplot(grid[index, :2])
        vmax = (
            float(np.percentile(strip, 99.5)) if index == 0 else shared_vmax
        )  # the mixture is far quieter (a mean of reverberant sources)
        axes.imshow(
            strip, origin="lower", aspect="auto", cmap="magma", vmin=0.0, vmax=max(vmax, 1e-3), interpolation="nearest"
        )
        axes.set_ylabel("freq bin")
        axes.set_title(name, fontsize=9, loc="left")
        axes.set_xticks(np.arange(0, strip.shape[1] + 1, frames * 2))
        axes.set_xticklabels([str(t) for t in range(0, strip.shape[1] // frames + 1, 2)])
    axes.set_xlabel("step (s)")
    _draw_trajectory(figure.add_subplot(grid[:, 2]), trajectory, layout, scene, source_positions)
    figure.suptitle(title, fontsize=10)
    figure.savefig(path, dpi=80)
    plt.close(figure)


def _draw_trajectory(
    axes, trajectory: list[dict], layout: SoundSpacesLayout, scene: str, source_positions: list[list[float]]
) -> None:
    """Rooms and walls (when the scene has a floor plan), nodes, the agent's path with headings, sources."""
    points = read_points(layout.points_path(scene))
    if os.path.isfile(layout.floorplan_path(scene)):
        with open(layout.floorplan_path(scene)) as handle:
            plan = FloorPlan.from_json(handle.read())
        for room in plan.rooms:
            axes.add_patch(
                plt.Rectangle(
                    (room.x0, room.y0), room.width, room.depth, color=np.array(room.wall_color) / 255, alpha=0.3
                )
            )
        for start, end, _ in plan.wall_segments():
            axes.plot([start[0], end[0]], [start[1], end[1]], color="black", linewidth=2)
    xy = np.array([points[node][:2] for node in sorted(points)])
    axes.scatter(xy[:, 0], xy[:, 1], s=8, color="grey", zorder=2)
    path = np.array([points[int(step["node"])][:2] for step in trajectory])
    axes.plot(path[:, 0], path[:, 1], color="tab:blue", linewidth=2, zorder=3, label="agent path")
    for step in trajectory:
        x, y = points[int(step["node"])][:2]
        radians = np.radians(float(step["heading"]))
        axes.arrow(
            x, y, -0.3 * np.sin(radians), 0.3 * np.cos(radians), head_width=0.12, color="tab:blue", zorder=4
        )  # mesh frame: heading h faces (-sin h, cos h)
    axes.scatter(*path[0], marker="o", s=90, color="tab:green", zorder=5, label="start")
    for index, position in enumerate(source_positions):
        x, y = habitat_to_mesh(position)[:2]
        axes.scatter(
            x,
            y,
            marker="*" if index == 0 else "X",
            s=200 if index == 0 else 110,
            color="tab:red" if index == 0 else "tab:purple",
            zorder=5,
            label="target" if index == 0 else ("distractor" if index == 1 else None),
        )
    axes.set_aspect("equal")
    axes.legend(loc="best", fontsize=8)
    axes.set_title(f"{scene}: trajectory", fontsize=9)


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def write_video(path: str, frames: np.ndarray, audio_path: str, step_seconds: float) -> bool:
    """An mp4 of the views (steps, H, W, 3) uint8, each shown for one step, with the audio file; False
    (nothing written) when ffmpeg is absent or fails."""
    if not ffmpeg_available() or len(frames) == 0:
        return False
    height, width = frames.shape[1:3]
    command = [
        "ffmpeg",
        "-y",
        "-loglevel",
        "error",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{width}x{height}",
        "-r",
        f"{1.0 / step_seconds:g}",
        "-i",
        "-",
        "-i",
        audio_path,
        "-vf",
        "fps=10,scale=256:256:flags=neighbor",
        "-c:v",
        "libx264",
        "-preset",  # veryfast on one thread: ~2/3 of the default preset's CPU time (20 random frames; file 2 % larger)
        "veryfast",
        "-threads",
        "1",  # evaluations run one per core
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        path,
    ]
    try:
        subprocess.run(
            command,
            input=np.ascontiguousarray(frames, dtype=np.uint8).tobytes(),
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
        return False
    return True


def write_index_html(path: str, title: str, summary: dict[str, Any], episodes: list[dict[str, Any]]) -> None:
    """One page per evaluation run: the aggregate numbers, then every episode with media (players, PNG, video)."""

    def number(value: Any) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    metrics = summary["metrics"]
    head = "".join(
        f"<th>{html.escape(name)}</th>"
        for name in ("estimate", "SI-SDR (dB)", "95 % interval", "SI-SDR improvement", "STFT distance")
    )
    rows = "".join(
        f"<tr><td>{kind}</td><td>{number(metrics[kind]['si_sdr']['mean'])}</td><td>[{number(metrics[kind]['si_sdr']['ci95_low'])}, {number(metrics[kind]['si_sdr']['ci95_high'])}]</td>"
        f"<td>{number(metrics[kind]['si_sdr_improvement']['mean'])}</td><td>{number(metrics[kind]['stft_distance']['mean'])}</td></tr>"
        for kind in ("passive", "refined")
    )
    rows += f"<tr><td>mixture (input)</td><td>{number(metrics['refined']['input_si_sdr']['mean'])}</td><td></td><td>0</td><td>{number(metrics['refined']['input_stft_distance']['mean'])}</td></tr>"
    sections = []
    for episode in episodes:
        media = episode.get("media")
        if not media:
            continue
        folder = html.escape(media["folder"])
        players = "".join(
            f"<div><b>{name}</b><br><audio controls preload=none src='{folder}/{html.escape(media[name])}'></audio></div>"
            for name in ("mixture", "target", "estimate")
        )
        video = (
            f"<video controls preload=none width=256 src='{folder}/{html.escape(media['video'])}'></video>"
            if media.get("video")
            else ""
        )
        refined, passive = episode["mean"]["refined"], episode["mean"]["passive"]
        sections.append(
            f"<h3>episode {html.escape(str(episode['episode_id']))} ({html.escape(episode['scene'])})</h3>"
            f"<p>SI-SDR refined {refined['si_sdr']:.2f} dB, passive {passive['si_sdr']:.2f} dB, mixture {refined['input_si_sdr']:.2f} dB; "
            f"STFT distance refined {refined['stft_distance']:.3f}, passive {passive['stft_distance']:.3f}</p>"
            f"<div style='display:flex;gap:1em;align-items:flex-start'>{players}{video}</div>"
            f"<img src='{folder}/{html.escape(media['png'])}' style='max-width:100%'>"
        )
    page = (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:1em 2em}td,th{padding:2px 8px;border-bottom:1px solid #ddd}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{summary['num_episodes']} episodes, split {html.escape(summary['split'])}, agent {html.escape(summary['agent'])}, "
        f"model {html.escape(summary.get('model', '-'))}. Estimates play with the {html.escape(summary['estimate_phase'])} phase.</p>"
        f"<table><tr>{head}</tr>{rows}</table>{''.join(sections)}</body></html>"
    )
    with open(path, "w") as handle:
        handle.write(page)
