"""What a person listens to and looks at after a NAF eval: <model-dir>/eval/index.html.

For NAF.REPORT_PAIRS held-out (listener, emitter) pairs (distinct pairs, spread evenly over the evaluated
test items) the first NAF.REPORT_SECONDS of the sound bank's first heard clip is convolved with
    ground_truth.wav   the recorded RIR
    naf_<phase>.wav    the NAF's RIR: its predicted magnitudes with each phase method of NAF.PHASE_METHODS
    nearest.wav        the nearest baseline's RIR: the nearest training RIR of the same heading
Every RIR is cropped / zero-padded to the scene's longest ((max_len - 1) x hop samples), so each render is
clip + that - 1 samples long. The renders of one pair share ONE gain (the loudest at a peak of 0.9), so
loudness differences are the methods' own; 16-bit PCM (every browser plays it). Per pair also
spectrogram.png (log-magnitudes of both ears: ground truth, NAF, nearest) and decay.png (Schroeder
energy decay curves, per ear). The page embeds the scene pictures the eval made (loudness map, t-SNE,
wall probe) when present. A world without a sound bank (real data) gets the RIRs themselves as audio,
and the page says so. Layout: eval/index.html, eval/report/dry.wav, eval/report/pair_<k>/...
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import soundfile  # noqa: E402
from scipy.signal import fftconvolve  # noqa: E402

from audio_separation.audio import metrics  # noqa: E402
from audio_separation.naf.baselines import fit_frames, interpolated_waveforms  # noqa: E402
from audio_separation.naf.data import NafSceneData, logmag_of_waveform  # noqa: E402
from audio_separation.naf.phase import waveform_of_logmag  # noqa: E402
from audio_separation.world.soundspaces import (  # noqa: E402
    MissingSoundError,
    SoundSpacesLayout,
    list_sounds,
    read_sound,
    resample,
)

logger = logging.getLogger("audio_separation")

PEAK = 0.9  # the loudest render of a pair plays at this peak


@dataclass(frozen=True)
class ReportSettings:
    """What the page shows (from the NAF section of the config)."""

    pairs: int
    seconds: float
    phase_methods: tuple[str, ...]
    phase_seed: int
    griffin_lim_iterations: int
    bank_sample_rate: int
    sounds_folder: str

    @classmethod
    def from_config(cls, config) -> ReportSettings:
        naf = config.NAF
        return cls(
            pairs=int(naf.REPORT_PAIRS),
            seconds=float(naf.REPORT_SECONDS),
            phase_methods=tuple(naf.PHASE_METHODS),
            phase_seed=int(naf.PHASE_SEED),
            griffin_lim_iterations=int(naf.GRIFFIN_LIM_ITERATIONS),
            bank_sample_rate=int(config.AUDIO.SAMPLE_RATE),
            sounds_folder=str(config.WORLD.SOUNDS_DIR),
        )


def choose_pairs(data: NafSceneData, indices: Sequence[int], count: int) -> list[int]:
    """Positions into `indices` of up to `count` items with distinct (listener, emitter), spread evenly."""
    seen, distinct = set(), []
    for position, item in enumerate(indices):
        pair = (tuple(data.listener_xy[item]), tuple(data.emitter_xy[item]))
        if pair not in seen:
            seen.add(pair)
            distinct.append(position)
    if count <= 0 or not distinct:
        return []
    chosen = np.unique(np.linspace(0, len(distinct) - 1, min(count, len(distinct))).round().astype(int))
    return [distinct[c] for c in chosen]


def dry_clip(layout: SoundSpacesLayout, settings: ReportSettings, sample_rate: int) -> tuple[np.ndarray, str] | None:
    """(first REPORT_SECONDS of the first heard clip at sample_rate, its name), or None without a sound bank."""
    try:
        name = list_sounds(layout, heard=True, sounds_folder=settings.sounds_folder)[0]
    except MissingSoundError as error:
        logger.info("NAF report: %s; the page plays the RIRs themselves", error)
        return None
    path = os.path.join(layout.sounds_dir(settings.sounds_folder), "heard", name)
    clip = resample(read_sound(path, settings.bank_sample_rate), settings.bank_sample_rate, sample_rate)
    return np.asarray(clip[: int(round(settings.seconds * sample_rate))], dtype=np.float64), name


def fit_samples(waveform: np.ndarray, samples: int) -> np.ndarray:
    """(2, n) -> (2, samples), cropped or zero-padded at the end."""
    waveform = np.asarray(waveform, dtype=np.float64)[..., :samples]
    return np.pad(waveform, ((0, 0), (0, samples - waveform.shape[-1])))


def write_wav(path: str, signal: np.ndarray, sample_rate: int, gain: float) -> None:
    """(channels, samples) x gain -> 16-bit PCM."""
    soundfile.write(path, np.clip(signal * gain, -1.0, 1.0).T, sample_rate, subtype="PCM_16")


def _spectrogram_png(path: str, rows: list[tuple[str, np.ndarray]], title: str) -> None:
    """Log-magnitudes (2, F, T) side by side: one column per method, one row per ear, one colour scale."""
    low = min(float(np.percentile(logmag, 1)) for _, logmag in rows)
    high = max(float(logmag.max()) for _, logmag in rows)
    figure, axes = plt.subplots(
        2, len(rows), figsize=(3.6 * len(rows), 6), squeeze=False, sharey=True, layout="constrained"
    )
    for column, (name, logmag) in enumerate(rows):
        for ear in range(2):
            image = axes[ear, column].imshow(
                logmag[ear], origin="lower", aspect="auto", cmap="magma", vmin=low, vmax=high, interpolation="nearest"
            )
            axes[ear, column].set_title(f"{name}, {'left' if ear == 0 else 'right'} ear", fontsize=9)
        axes[1, column].set_xlabel("frame")
    for ear in range(2):
        axes[ear, 0].set_ylabel("freq bin")
    figure.colorbar(image, ax=axes, label="log(|STFT| + eps)")
    figure.suptitle(title, fontsize=10)
    figure.savefig(path, dpi=80)
    plt.close(figure)


def _decay_png(path: str, rirs: list[tuple[str, np.ndarray]], sample_rate: int, title: str) -> None:
    """Schroeder decay curves in dB of (2, samples) RIRs, one axis per ear, T60 of each in the legend."""
    figure, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for name, rir in rirs:
        decay = metrics.schroeder_decay_db(rir)
        t60 = np.atleast_1d(metrics.t60(rir, sample_rate))
        times = np.arange(rir.shape[-1]) / sample_rate
        for ear in range(2):
            reverberation = "failed" if not np.isfinite(t60[ear]) else f"{t60[ear]:.3f} s"
            axes[ear].plot(times, np.maximum(decay[ear], -80.0), label=f"{name} (T60 {reverberation})", linewidth=1.2)
    for ear, axis in enumerate(axes):
        for level in (-5.0, -35.0):
            axis.axhline(level, color="grey", linestyle=":", linewidth=0.8)
        axis.set_ylim(-70, 2)
        axis.set_xlabel("time (s)")
        axis.set_title(f"{'left' if ear == 0 else 'right'} ear", fontsize=9)
        axis.legend(fontsize=7)
    axes[0].set_ylabel("energy decay (dB)")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def _number(value) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.3f}"


def _metrics_table(result: dict) -> str:
    head = "".join(
        f"<th>{name}</th>"
        for name in ("method", "spectral error", "T60 error %", "T60 failures", "C50 error dB", "EDT error s")
    )
    rows = ""
    for name, key in (("NAF", "naf"), ("mean predictor", "mean_predictor")):
        scores = result.get(key)
        if scores:
            rows += (
                f"<tr><td>{name}</td><td>{_number(scores['spectral_error'])}</td><td>{_number(scores['t60_error_percent'])}</td>"
                f"<td>{scores['t60_failures']}</td><td>{_number(scores['c50_error_db'])}</td><td>{_number(scores['edt_error_seconds'])}</td></tr>"
            )
    return f"<table><tr>{head}</tr>{rows}</table>"


def write_eval_report(
    out_dir: str,
    data: NafSceneData,
    indices: Sequence[int],
    predictions: Sequence[np.ndarray],
    result: dict,
    layout: SoundSpacesLayout,
    settings: ReportSettings,
) -> dict:
    """Write out_dir/index.html and out_dir/report/ (see the module docstring); returns what was written.

    indices / predictions: the evaluated test items and the NAF's log-magnitudes (2, F, T_i) for them;
    result: the eval's metrics (its "naf", "mean_predictor" and "plots" entries are shown)."""
    params = data.params
    rate = params.sample_rate
    report_dir = os.path.join(out_dir, "report")
    os.makedirs(report_dir, exist_ok=True)
    positions = choose_pairs(data, indices, settings.pairs)
    items = np.array([int(indices[p]) for p in positions], dtype=np.int64)
    rir_samples = (data.max_len - 1) * params.hop_length
    clip = dry_clip(layout, settings, rate)
    if clip is not None:
        write_wav(os.path.join(report_dir, "dry.wav"), clip[0][None], rate, PEAK / max(np.abs(clip[0]).max(), 1e-9))
    nearest_waves = interpolated_waveforms(data, items, "nearest") if len(items) else []
    pairs = []
    for number, (position, item, nearest) in enumerate(zip(positions, items, nearest_waves)):
        prediction = np.asarray(predictions[position])
        rirs = [("ground truth", "ground_truth", fit_samples(data.waveform(int(item)), rir_samples))]
        for method in settings.phase_methods:
            wave = waveform_of_logmag(
                prediction,
                params.stft_params,
                params.log_eps,
                method,
                settings.phase_seed,
                settings.griffin_lim_iterations,
            )
            rirs.append((f"NAF, {method} phase", f"naf_{method}", fit_samples(wave, rir_samples)))
        rirs.append(("nearest (training RIR)", "nearest", fit_samples(nearest, rir_samples)))
        for name, _, rir in rirs:
            if not np.all(np.isfinite(rir)):
                raise ValueError(f"NAF report: the {name} RIR of {data.keys[item]} is not finite")
        renders = [fftconvolve(clip[0][None], rir, axes=-1) if clip is not None else rir for _, _, rir in rirs]
        gain = PEAK / max(max(float(np.abs(r).max()) for r in renders), 1e-9)
        folder = f"pair_{number}"
        os.makedirs(os.path.join(report_dir, folder), exist_ok=True)
        files = {}
        for (_, stem, _), render in zip(rirs, renders):
            files[stem] = f"report/{folder}/{stem}.wav"
            write_wav(os.path.join(out_dir, files[stem]), render, rate, gain)
        truth = data.item_logmag(int(item))
        nearest_logmag = fit_frames(logmag_of_waveform(nearest, params), int(data.lengths[item]), params.log_eps)
        title = (
            f"{data.scene} {data.keys[item]} (heading_listener_emitter): spectral error NAF "
            f"{np.mean(np.abs(prediction - truth)):.3f}, nearest {np.mean(np.abs(nearest_logmag - truth)):.3f}"
        )
        files["spectrogram"] = f"report/{folder}/spectrogram.png"
        _spectrogram_png(
            os.path.join(out_dir, files["spectrogram"]),
            [("ground truth", truth), ("NAF", prediction), ("nearest", nearest_logmag)],
            title,
        )
        files["decay"] = f"report/{folder}/decay.png"
        _decay_png(os.path.join(out_dir, files["decay"]), [(name, rir) for name, _, rir in rirs], rate, title)
        pairs.append(
            {
                "key": data.keys[item],
                "heading": int(data.heading[item]),
                "listener_xy": [float(v) for v in data.listener_xy[item]],
                "emitter_xy": [float(v) for v in data.emitter_xy[item]],
                "labels": {stem: name for name, stem, _ in rirs},
                "files": files,
                "samples": int(renders[0].shape[-1]),
                "spectral_error_naf": float(np.mean(np.abs(prediction - truth))),
                "spectral_error_nearest": float(np.mean(np.abs(nearest_logmag - truth))),
            }
        )
    index = os.path.join(out_dir, "index.html")
    with open(index, "w") as handle:
        handle.write(_page(data, result, pairs, clip[1] if clip is not None else None, settings))
    return {"index": index, "pairs": pairs, "dry_clip": clip[1] if clip is not None else None}


def _page(data: NafSceneData, result: dict, pairs: list[dict], clip_name: str | None, settings: ReportSettings) -> str:
    title = f"NAF eval: {data.scene}"
    if clip_name is not None:
        audio_note = (
            f"Each player is the first {settings.seconds:g} s of the heard clip {html.escape(clip_name)} convolved with one RIR; "
            "the players of a pair share one gain."
        )
        dry = "<p><b>dry clip</b><br><audio controls preload=none src='report/dry.wav'></audio></p>"
    else:
        audio_note = "This world has no sound bank: the players play the RIRs themselves (one gain per pair)."
        dry = ""
    plots = result.get("plots") or {}
    pictures = "".join(
        f"<figure style='display:inline-block;margin:0 1em 1em 0'><img src='{html.escape(os.path.basename(plots[name]))}' "
        f"style='max-width:520px'><figcaption>{caption}</figcaption></figure>"
        for name, caption in (
            ("loudness", "loudness map (fixed emitter)"),
            ("tsne", "t-SNE of the last hidden features (RGB)"),
            ("wall_probe", "wall-distance linear probe"),
        )
        if isinstance(plots.get(name), str)
    )
    if not pictures:
        pictures = f"<p>{html.escape(str(plots.get('skipped', 'scene pictures not made (NAF.EVAL_PLOTS False)')))}</p>"
    sections = []
    for number, pair in enumerate(pairs):
        players = "".join(
            f"<div><b>{html.escape(pair['labels'][stem])}</b><br><audio controls preload=none src='{html.escape(pair['files'][stem])}'></audio></div>"
            for stem in pair["labels"]
        )
        listener = ", ".join(f"{v:.2f}" for v in pair["listener_xy"])
        emitter = ", ".join(f"{v:.2f}" for v in pair["emitter_xy"])
        sections.append(
            f"<h3>pair {number}: {html.escape(pair['key'])}</h3>"
            f"<p>listener ({listener}) m, emitter ({emitter}) m, heading {pair['heading']}; spectral error NAF "
            f"{pair['spectral_error_naf']:.3f}, nearest {pair['spectral_error_nearest']:.3f}</p>"
            f"<div style='display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start'>{players}</div>"
            f"<img src='{html.escape(pair['files']['spectrogram'])}' style='max-width:100%'>"
            f"<img src='{html.escape(pair['files']['decay'])}' style='max-width:100%'>"
        )
    checkpoint = os.path.basename(str(result.get("checkpoint", "")))
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:1em 2em}td,th{padding:2px 8px;border-bottom:1px solid #ddd}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{result.get('test_items', '?')} held-out items scored, checkpoint {html.escape(checkpoint)}. "
        "Scores: the paper protocol (prediction and ground truth share one random phase).</p>"
        f"{_metrics_table(result)}<h2>Scene</h2>{pictures}<h2>Listen</h2><p>{audio_note} NAF rows: the predicted magnitudes "
        "with each phase method; nearest: the nearest training RIR of the same heading (4-d listener/emitter position).</p>"
        f"{dry}{''.join(sections)}</body></html>"
    )
