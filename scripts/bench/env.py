#!/usr/bin/env python
"""Benchmark the env: steps/s for 1 env and NUM_PROCESSES envs, the time split (audio / views / rest),
and, on the same episodes and actions, a straightforward per-step reference pipeline written from the
spec (per source and ear scipy fftconvolve "same", mixture = mean, librosa STFT of every signal, as the
original simulator does) with the maximum absolute difference of the observations. Appends a dated
row to BENCHMARKS.md.

    python scripts/bench/env.py [--data-root data/worlds/default] [--episodes 10] [--no-append]

"cold" = fresh env (empty RIR / clip caches); "warm" = the same episodes again (best of two passes;
the reference likewise replays the same states twice and keeps the faster). The floor is the
irreducible audio math of one step with every spectrum cached (batched inverse FFT + STFT of the
sources' binaural signals), timed alone. N envs: async (one process per env) and sync, each timed
after a warm-up of the same number of steps. Grouped: --grouped-envs envs in ENV.NUM_WORKERS groups
(one per core; the calling process steps one group, env/grouped_vector.py) with reused observation
buffers (ENV.COPY_OBSERVATIONS False), at the exact and the fast STFT; its own table, with the
speed-up over the same run's reference and the throughput per stepping process. torch runs
single-threaded here, as in env worker processes.

    python scripts/bench/env.py --batched 1 4 16 64 [--threads 2] [--device cuda] [--stfts fast]

compares the batched env (one process; --threads torch threads, which its CPU work also uses) at each
N with the grouped env at its best setting (one process per core), warm, on the same episodes and
actions; its own table.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import librosa  # noqa: E402
from benchmarks_file import append_row  # noqa: E402  (scripts/bench is on sys.path when run as a script)
from scipy.signal import fftconvolve  # noqa: E402

from audio_separation.audio.mixing import chunk_spectrum, convolution_fft_length, convolve_from_spectra, rir_spectrum  # noqa: E402
from audio_separation.audio.renderer import clear_process_rir_spectra  # noqa: E402
from audio_separation.audio.stft import StftParams, stft  # noqa: E402
from audio_separation.config import get_config  # noqa: E402
from audio_separation.env import make_env, make_vector_env  # noqa: E402
from audio_separation.env.grouped_vector import default_num_workers, split_into_groups  # noqa: E402
from audio_separation.env.settings import EnvSettings  # noqa: E402
from audio_separation.world.builder import build_world_if_absent  # noqa: E402

SECTION = "Env throughput (scripts/bench/env.py)"
TABLE = (
    "| date | machine | world, sources, sensors | 1 env cold / warm (steps/s) | split audio / views / rest (ms/step) "
    "| N envs async / sync, warm (steps/s) | reference (steps/s) | speed-up 1 env warm / N envs | max abs diff vs reference "
    "| fast STFT: 1 env warm / N envs async (steps/s), speed-up | floor exact / fast (ms/step), 1-env step / floor |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)
BATCHED_SECTION = "Env throughput, batched vector env vs grouped (scripts/bench/env.py --batched)"
BATCHED_TABLE = (
    "| date | machine | world, sources, sensors, STFT | device | batched N = ...: steps/s | grouped (best of the envs tried / processes): steps/s "
    "| batched at N = 16 / grouped best | note |\n"
    "|---|---|---|---|---|---|---|---|"
)
GROUPED_SECTION = "Env throughput, grouped vector env (scripts/bench/env.py)"
GROUPED_TABLE = (
    "| date | machine | world, sources, sensors | envs / stepping processes | exact STFT (steps/s), speed-up | fast STFT (steps/s), speed-up "
    "| reference, same run (steps/s) | per stepping process exact / fast (steps/s) | note |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


# ============================================================================================ reference
def reference_audio(
    clips,
    rirs,
    node: int,
    heading: int,
    sources: list[tuple[str, int, int]],
    sensors: list[str],
    sample_rate: int,
    target_rms: float,
) -> dict[str, np.ndarray]:
    """The audio observations of one step computed the straightforward way, from the spec."""
    kwargs = dict(n_fft=1023, hop_length=512, win_length=1023, center=True, pad_mode="constant")
    binaural, mono = [], []
    for path, second, source in sources:
        chunk = clips.clip(path)[second * sample_rate : (second + 1) * sample_rate]
        rir = rirs.get(node, source, heading)
        binaural.append(np.stack([fftconvolve(chunk, rir[:, ear], mode="same") for ear in range(2)]))
        mono.append(librosa.stft(chunk, **kwargs))
    mixture = np.mean(binaural, axis=0)
    mixture_stft = np.stack([librosa.stft(mixture[ear], **kwargs) for ear in range(2)], axis=-1)
    observations = {
        "mixed_binaural_magnitude": np.log1p(np.abs(mixture_stft)),
        "mixed_binaural_phase": np.angle(mixture_stft),
    }
    mono_stft = np.stack(mono, axis=-1)
    mono_magnitude = np.abs(mono_stft)
    mono_magnitude[..., 0] *= target_rms / np.sqrt(np.mean(mono_magnitude[..., 0] ** 2))
    observations.update(gt_mono_magnitude=mono_magnitude, gt_mono_phase=np.angle(mono_stft))
    if "GT_BINAURAL" in sensors:
        binaural_stft = np.stack(
            [librosa.stft(signal[ear], **kwargs) for signal in binaural for ear in range(2)], axis=-1
        )
        observations.update(gt_binaural_magnitude=np.abs(binaural_stft), gt_binaural_phase=np.angle(binaural_stft))
    return observations


def spectrum_difference(ours: dict, reference: dict, name: str) -> float:
    """Max |a e^(i phi) - b e^(i psi)| of a magnitude/phase pair (phase alone is ill-defined where |.| ~ 0)."""
    magnitude, phase = f"{name}_magnitude", f"{name}_phase"
    return float(
        np.max(
            np.abs(ours[magnitude] * np.exp(1j * ours[phase]) - reference[magnitude] * np.exp(1j * reference[phase]))
        )
    )


# ============================================================================================ runs
def episode_plan(config, episodes: int, seed: int) -> tuple[list[str], list[list[int]]]:
    env = make_env(EnvSettings.from_config(config))
    ids = [episode.episode_id for episode in env.episodes.episodes[:episodes]]
    rng = np.random.default_rng(seed)
    actions = [[int(a) for a in rng.integers(3, size=config.TASK.MAX_EPISODE_STEPS - 1)] for _ in ids]
    env.close()
    return ids, actions


def run_single(config, ids: list[str], actions: list[list[int]], passes: int = 2, reference: bool = False) -> dict:
    """One env in this process: steps/s per pass and the time split of the last pass. With reference,
    the states of the last pass are replayed through reference_audio (+ the view lookup) in a loop of
    their own, timed alone, and the observations compared."""
    clear_process_rir_spectra()  # cold = empty caches (the RIR spectrum LRU is per process, shared by envs)
    env = make_env(EnvSettings.from_config(config))
    results: dict = {"passes": []}
    audio_keys = [key for key in env.observation_space.spaces if key.startswith(("mixed_", "gt_"))]
    recorded: list[tuple] = []
    for index in range(passes):
        for key in env.timings:
            env.timings[key] = 0.0
        steps = 0
        record = reference and index == passes - 1
        started = time.perf_counter()
        for episode_id, episode_actions in zip(ids, actions):
            observation, _ = env.reset(options={"episode_id": episode_id})
            steps += 1
            for action in episode_actions:
                observation, *_ = env.step(action)
                steps += 1
                if record:
                    pause = time.perf_counter()
                    simulator = env.simulator
                    sources = list(
                        zip(simulator.episode.sound_paths, simulator.clip_seconds(), simulator.episode.source_nodes)
                    )
                    rirs = simulator._scene_rirs(simulator.scene(simulator.episode.scene), simulator.episode.scene)
                    recorded.append(
                        (
                            rirs,
                            simulator.node,
                            simulator.heading,
                            sources,
                            {key: observation[key] for key in audio_keys},
                        )
                    )
                    started += time.perf_counter() - pause  # keep the env's own clock clean
        wall = time.perf_counter() - started
        results["passes"].append(steps / wall)
        timings = env.timings
        if index > 0 and steps / wall >= max(results["passes"][1:]):  # the split of the best warm pass
            results["split_ms"] = {
                "audio": 1e3 * timings["audio"] / steps,
                "views": 1e3 * timings["views"] / steps,
                "rest": 1e3 * (wall - timings["audio"] - timings["views"]) / steps,
            }
    if reference:
        sensors, clips = list(config.TASK.SENSORS), env.simulator.renderer.clips
        views = env.simulator._scene_views(
            env.simulator.scene(env.simulator.episode.scene), env.simulator.episode.scene
        )
        differences: dict[str, float] = {}
        rates = []
        for _ in range(2):  # best of two replays, as for the env's warm passes
            seconds = 0.0
            for rirs, node, heading, sources, observation in recorded:
                reference_started = time.perf_counter()
                expected = reference_audio(
                    clips, rirs, node, heading, sources, sensors, config.AUDIO.SAMPLE_RATE, config.AUDIO.TARGET_MONO_RMS
                )
                view = views.get((node, heading))
                if view is not None:
                    view["rgb"].copy(), view["depth"].copy()
                seconds += time.perf_counter() - reference_started
                _compare(observation, expected, differences)
            rates.append(len(recorded) / seconds)
        results["reference_steps_per_second"] = max(rates)
        results["differences"] = differences
    env.close()
    return results


def _compare(observation: dict, expected: dict, differences: dict) -> None:
    for key in ("mixed_binaural_magnitude", "gt_mono_magnitude", "gt_binaural_magnitude"):
        if key in observation and key in expected:
            differences[key] = max(differences.get(key, 0.0), float(np.max(np.abs(observation[key] - expected[key]))))
    for name in ("gt_mono", "gt_binaural"):
        if f"{name}_phase" in observation and f"{name}_phase" in expected:
            differences[f"{name} complex"] = max(
                differences.get(f"{name} complex", 0.0), spectrum_difference(observation, expected, name)
            )


def run_vector(config, kind: str, steps_per_env: int) -> tuple[float, float]:
    """Env-steps/s of NUM_PROCESSES envs: (cold, warm). Every run restarts the episode order
    (reset with seed 0) and replays the same actions, so the later runs find warm caches; warm is
    the best of two."""
    clear_process_rir_spectra()
    envs = make_vector_env(EnvSettings.from_config(config), vector_env_type=kind)
    count = envs.num_envs
    actions = np.random.default_rng(0).integers(3, size=(steps_per_env, count))
    rates = []
    for _ in range(3):
        envs.reset(seed=0)
        started = time.perf_counter()
        for step_actions in actions:
            envs.step(step_actions)
        rates.append(count * steps_per_env / (time.perf_counter() - started))
    envs.close()
    return rates[0], max(rates[1:])


def run_batched(config, sizes: list[int], steps_per_env: int, device: str, threads: int = 1) -> dict[int, float]:
    """Warm env-steps/s of the batched env (ENV.DEVICE device, `threads` torch threads: its CPU work uses
    that many) at each N: one cold run fills the device caches, the best of two replays of the same
    episodes and actions counts (as run_vector)."""
    rates = {}
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for count in sizes:
            derived = config.clone()
            derived.defrost()
            derived.merge_from_list(["NUM_PROCESSES", str(count), "ENV.DEVICE", device])
            derived.freeze()
            envs = make_vector_env(EnvSettings.from_config(derived), vector_env_type="batched")
            actions = np.random.default_rng(0).integers(3, size=(steps_per_env, count))
            runs = []
            for _ in range(3):
                envs.reset(seed=0)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                started = time.perf_counter()
                for step_actions in actions:
                    envs.step(step_actions)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                runs.append(count * steps_per_env / (time.perf_counter() - started))
            envs.close()
            rates[count] = max(runs[1:])
            print(f"batched {count} envs on {device}, {threads} thread(s): {rates[count]:.0f} steps/s", flush=True)
    finally:
        torch.set_num_threads(before)
    return rates


def batched_comparison(args, exact, fast) -> int:
    """--batched: the batched env at each N against the grouped env at its best setting (several envs,
    one stepping process per core, reused buffers), same STFT; one row per STFT."""
    load_before = os.getloadavg()[0]
    rows = []
    for name, config in (("exact", exact), ("fast", fast)):
        if name not in args.stfts:
            continue
        batched = run_batched(config, args.batched, args.vector_steps, args.device, args.threads)
        grouped = {}
        for count in args.grouped_sizes if args.device == "cpu" or args.grouped_sizes else []:
            derived = config.clone()
            derived.defrost()
            derived.merge_from_list(["NUM_PROCESSES", str(count), "ENV.COPY_OBSERVATIONS", "False"])
            derived.freeze()
            grouped[count] = run_vector(derived, "grouped", args.vector_steps)[1]
            print(f"grouped {count} envs: {grouped[count]:.0f} steps/s", flush=True)
        best = max(grouped, key=grouped.get) if grouped else None
        processes = len(split_into_groups(best, int(exact.ENV.NUM_WORKERS) or default_num_workers(best))) if best else 0
        machine = f"{platform.machine()} {os.cpu_count()} cores, load avg {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
        if args.device.startswith("cuda"):
            machine += f", {torch.cuda.get_device_name(args.device)}"
        world = f"{os.path.basename(os.path.normpath(args.data_root))}/{args.split}, N={exact.TASK.NUM_SOUNDS_IN_MIX}, {len(exact.TASK.SENSORS)} sensors, {name} STFT"
        ratio = f"{batched[16] / grouped[best]:.2f}x" if best and 16 in batched else "-"
        grouped_text = f"{grouped[best]:.0f} ({best} envs / {processes})" if best else "-"
        threads = f", {args.threads} threads" if args.threads != 1 else ""
        rows.append(
            f"| {datetime.date.today().isoformat()} | {machine} | {world} | {args.device}{threads} "
            f"| {', '.join(f'{count}: {rate:.0f}' for count, rate in batched.items())} | {grouped_text} | {ratio} | {args.note or '-'} |"
        )
        print(rows[-1], flush=True)
    if not args.no_append:
        for row in rows:
            append_row(BATCHED_SECTION, BATCHED_TABLE, row)
    return 0


def floor_ms(config, fast: bool, repeats: int = 300) -> float:
    """Batched inverse FFT + STFT of N sources x 2 ears with every spectrum cached (1-s RIRs)."""
    params = StftParams.from_config(config.AUDIO) if not fast else StftParams(fast=True)
    sources = int(config.TASK.NUM_SOUNDS_IN_MIX)
    samples = int(config.AUDIO.SAMPLE_RATE)
    rng = np.random.default_rng(0)
    fft_length = convolution_fft_length(samples, samples)
    chunks = chunk_spectrum(rng.standard_normal((sources, samples)).astype(np.float32), fft_length)
    rirs = np.stack(
        [rir_spectrum(rng.standard_normal((samples, 2)).astype(np.float32), fft_length) for _ in range(sources)]
    )
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        stft(convolve_from_spectra(chunks, rirs, fft_length, samples, samples), params)
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times)


# ============================================================================================ main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default="data/worlds/default")
    parser.add_argument("--split", default="train")
    parser.add_argument("--episodes", type=int, default=10, help="episodes of env 0 replayed by every run")
    parser.add_argument(
        "--vector-steps",
        type=int,
        default=200,
        help="steps per env of each vector run (one cold run, then two warm replays)",
    )
    parser.add_argument(
        "--grouped-envs", type=int, default=4, help="envs of the grouped vector env runs (0: skip them)"
    )
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to BENCHMARKS.md")
    parser.add_argument(
        "--batched",
        type=int,
        nargs="*",
        default=None,
        help="only compare the batched env at these N (e.g. 1 4 16 64) with the grouped env (--grouped-sizes)",
    )
    parser.add_argument(
        "--grouped-sizes", type=int, nargs="*", default=[4, 16], help="envs of the grouped runs of --batched"
    )
    parser.add_argument("--device", default="cpu", help="ENV.DEVICE of the batched runs (cpu, cuda, cuda:N)")
    parser.add_argument("--stfts", nargs="+", default=["exact", "fast"], choices=["exact", "fast"])
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads of the --batched runs (one process; the grouped env runs one thread per process)",
    )
    parser.add_argument("--note", default="", help="free text for the --batched rows")
    parser.add_argument("opts", nargs="*", help="extra KEY VALUE config overrides")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(1)

    # the paper's exact pipeline uses the "same" crop (the reference below does too)
    base = [
        "WORLD.DATA_ROOT",
        args.data_root,
        "TASK.SPLIT",
        args.split,
        "ENV.SHUFFLE_EPISODES",
        "False",
        "ENV.MAX_EPISODES_PER_ENV",
        str(args.episodes),
        "AUDIO.CONVOLUTION_CROP",
        "same",
        *args.opts,
    ]
    load_before = os.getloadavg()[0]  # other processes on the machine skew every number: recorded in the row
    exact = get_config(opts=base)
    build_world_if_absent(exact)  # envs open a world, they never build one
    fast = get_config(opts=[*base, "AUDIO.FAST_STFT", "True"])
    if args.batched is not None:
        return batched_comparison(args, exact, fast)
    ids, actions = episode_plan(exact, args.episodes, seed=0)

    single = run_single(exact, ids, actions, passes=3, reference=True)
    single_fast = run_single(fast, ids, actions, passes=3)
    async_cold, async_rate = run_vector(exact, "async", args.vector_steps)
    _, sync_rate = run_vector(exact, "sync", args.vector_steps)
    _, async_fast = run_vector(fast, "async", args.vector_steps)
    floor_exact, floor_fast = floor_ms(exact, fast=False), floor_ms(exact, fast=True)
    grouped = {}
    if args.grouped_envs > 0:
        for name, config in (("exact", exact), ("fast", fast)):
            config = config.clone()
            config.defrost()
            config.merge_from_list(["NUM_PROCESSES", str(args.grouped_envs), "ENV.COPY_OBSERVATIONS", "False"])
            config.freeze()
            grouped[name] = run_vector(config, "grouped", args.vector_steps)[1]
        grouped["processes"] = len(
            split_into_groups(args.grouped_envs, int(exact.ENV.NUM_WORKERS) or default_num_workers(args.grouped_envs))
        )

    cold, warm = single["passes"][0], max(single["passes"][1:])
    reference = single["reference_steps_per_second"]
    warm_fast = max(single_fast["passes"][1:])
    split = single["split_ms"]
    difference = max(single["differences"].values())
    results = {
        "1 env cold / warm": (round(cold), round(warm)),
        "split ms": {k: round(v, 3) for k, v in split.items()},
        f"{exact.NUM_PROCESSES} envs async cold, warm / sync warm": (
            round(async_cold),
            round(async_rate),
            round(sync_rate),
        ),
        "reference": round(reference, 1),
        "speed-up 1 env warm / N envs": (round(warm / reference, 2), round(async_rate / reference, 2)),
        "max abs differences": {k: float(f"{v:.2e}") for k, v in single["differences"].items()},
        "fast 1 env warm / N envs": (round(warm_fast), round(async_fast)),
        "fast speed-ups": (round(warm_fast / reference, 2), round(async_fast / reference, 2)),
        "floor ms exact / fast": (round(floor_exact, 3), round(floor_fast, 3)),
        "1-env step / floor exact, fast": (round(1e3 / warm / floor_exact, 2), round(1e3 / warm_fast / floor_fast, 2)),
    }
    if grouped:
        results[f"grouped {args.grouped_envs} envs / {grouped['processes']} processes exact, fast"] = (
            round(grouped["exact"]),
            round(grouped["fast"]),
        )
        results["grouped speed-ups exact, fast"] = (
            round(grouped["exact"] / reference, 2),
            round(grouped["fast"] / reference, 2),
        )
    for key, value in results.items():
        print(f"{key}: {value}")
    machine = (
        f"{platform.machine()} {os.cpu_count()} cores, no GPU, load avg {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    world = f"{os.path.basename(os.path.normpath(args.data_root))}/{args.split}, N={exact.TASK.NUM_SOUNDS_IN_MIX}, {len(exact.TASK.SENSORS)} sensors"
    row = (
        f"| {datetime.date.today().isoformat()} | {machine} | {world} | {cold:.0f} / {warm:.0f} "
        f"| {split['audio']:.2f} / {split['views']:.3f} / {split['rest']:.2f} "
        f"| {exact.NUM_PROCESSES}: {async_rate:.0f} / {sync_rate:.0f} | {reference:.0f} "
        f"| {warm / reference:.1f}x / {async_rate / reference:.1f}x | {difference:.1e} "
        f"| {warm_fast:.0f} / {async_fast:.0f}, {warm_fast / reference:.1f}x / {async_fast / reference:.1f}x "
        f"| {floor_exact:.2f} / {floor_fast:.2f}, {1e3 / warm / floor_exact:.2f} / {1e3 / warm_fast / floor_fast:.2f} |"
    )
    print(row)
    if grouped:
        processes = grouped["processes"]
        grouped_row = (
            f"| {datetime.date.today().isoformat()} | {machine} | {world} | {args.grouped_envs} / {processes} "
            f"| {grouped['exact']:.0f}, {grouped['exact'] / reference:.1f}x | {grouped['fast']:.0f}, {grouped['fast'] / reference:.1f}x "
            f"| {reference:.0f} | {grouped['exact'] / processes:.0f} / {grouped['fast'] / processes:.0f} "
            f"| observation buffers reused (ENV.COPY_OBSERVATIONS False); max abs diff as in the main table |"
        )
        print(grouped_row)
    if not args.no_append:
        append_row(SECTION, TABLE, row)
        if grouped:
            append_row(GROUPED_SECTION, GROUPED_TABLE, grouped_row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
