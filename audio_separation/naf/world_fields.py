"""Fields for a whole world: train and evaluate one NAF per scene, score the baselines on the same held-out
items, and write a per-scene and averaged table like the paper's (scripts/naf_world.py is the command).

Layout under the root model dir:
    <root>/<scene>/            one NAF run (tb/, data/ckpt.<N>.pth, train.log, eval/ with index.html)
    <root>/<scene>/baselines.json   the baselines' scores on that scene (kept; a requested method not in
                                    it is added; all are recomputed when the evaluated items or
                                    NAF.PHASE_SEED change)
    <root>/naf_world.json, <root>/naf_world.md   the table

Resumable: a scene whose final checkpoint exists (NUM_EPOCHS reached or NAF.MAX_TRAIN_SECONDS spent,
judged from the latest checkpoint's counters against the current config) is not trained again; a partial
run resumes from its latest checkpoint (the trainer's own resume). An eval whose metrics.json names the
latest checkpoint is reused. Averages: each scene weighs the same (the paper averages 6 scenes); a metric
undefined on a scene (NaN) is left out of its average and counted.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import subprocess
from collections.abc import Sequence

import numpy as np
from yacs.config import CfgNode

from audio_separation.common.checkpoint import latest_checkpoint, load_checkpoint
from audio_separation.common.files import write_bytes_atomic, write_json_atomic
from audio_separation.common.logging import setup_logging
from audio_separation.config import get_config
from audio_separation.naf.baseline_scores import ALL_METHODS, METHODS, evaluated_indices, label, score_baselines
from audio_separation.naf.baselines import CODEC_TOOLS, INTERPOLATIONS, require_tool
from audio_separation.naf.codec_baselines import CODEC_INTERPOLATIONS, ROUNDTRIPS, split_method
from audio_separation.naf.data import ensure_scene_data, load_scene_data
from audio_separation.world.open import open_world

logger = logging.getLogger("audio_separation")

METRICS = ("spectral_error", "t60_error_percent", "c50_error_db", "edt_error_seconds")
NAF_ROW = "NAF"


def world_scenes(config: CfgNode, requested: str = "") -> list[str]:
    """Every scene of the config's world, or the comma-separated `requested` ones (each must exist)."""
    scenes = open_world(config.WORLD.DATA_ROOT, config.WORLD.DATASET).scenes()
    if not requested:
        return scenes
    wanted = [name.strip() for name in requested.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in scenes]
    if unknown:
        raise ValueError(f"scenes {unknown} are not in the world at {config.WORLD.DATA_ROOT} (it has {scenes})")
    return wanted


def training_finished(config: CfgNode, checkpoint_dir: str) -> bool:
    """True when the latest checkpoint has reached NUM_EPOCHS or spent NAF.MAX_TRAIN_SECONDS."""
    path = latest_checkpoint(checkpoint_dir)
    if path is None:
        return False
    counters = load_checkpoint(path)["counters"]
    budget = float(config.NAF.MAX_TRAIN_SECONDS)
    return counters["epoch"] >= config.NUM_EPOCHS or (budget > 0 and counters["seconds"] >= budget)


def require_codec_tools(methods: Sequence[str]) -> None:
    """Fail before any training when a requested codec baseline's program is missing."""
    for method in methods:
        if method in CODEC_INTERPOLATIONS or method in ROUNDTRIPS:
            for program, package in CODEC_TOOLS[split_method(method)[0]]:
                require_tool(program, package)


def _read_json(path: str) -> dict | None:
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def _same_file(first: str, second: str) -> bool:
    return bool(first) and bool(second) and os.path.realpath(first) == os.path.realpath(second)


def run_scene(exp_config: str, opts: Sequence[str], scene: str, scene_dir: str, methods: Sequence[str]) -> dict:
    """Train (or resume, or skip) and evaluate the scene's NAF, score the baselines; returns the scene's
    {"naf": eval metrics, "baselines": method -> scores, "trained": bool, "evaluated": bool}."""
    from audio_separation.naf.trainer import NafTrainer  # the trainer registers itself on import

    scene_opts = [*opts, "NAF.SCENE", scene]
    os.makedirs(scene_dir, exist_ok=True)
    setup_logging(os.path.join(scene_dir, "train.log"))
    train_config = get_config(exp_config, scene_opts, model_dir=scene_dir, run_type="train")
    checkpoint_dir = os.path.join(scene_dir, "data")
    trained = not training_finished(train_config, checkpoint_dir)
    if trained:
        logger.info("naf_world: training %s in %s", scene, scene_dir)
        NafTrainer.from_config(train_config).train()
    else:
        logger.info("naf_world: %s already trained (%s), skipped", scene, latest_checkpoint(checkpoint_dir))

    eval_config = get_config(exp_config, scene_opts, model_dir=scene_dir, run_type="eval")
    ensure_scene_data(eval_config, progress=False)
    data = load_scene_data(eval_config)
    items = [data.keys[i] for i in evaluated_indices(eval_config, data)]
    metrics_path = os.path.join(scene_dir, "eval", "metrics.json")
    metrics = _read_json(metrics_path)
    evaluated = (
        metrics is None
        or metrics.get("test_items") != len(items)
        or not _same_file(metrics.get("checkpoint", ""), latest_checkpoint(checkpoint_dir) or "")
    )
    if evaluated:
        metrics = NafTrainer.from_config(eval_config).eval()
    else:
        logger.info("naf_world: %s already evaluated (%s), kept", scene, metrics_path)

    baselines_path = os.path.join(scene_dir, "baselines.json")
    stored = _read_json(baselines_path) or {}
    identity = {"scene": scene, "items": items, "phase_seed": int(eval_config.NAF.PHASE_SEED)}
    scores = stored.get("scores", {}) if all(stored.get(k) == v for k, v in identity.items()) else {}
    missing = [m for m in methods if m not in scores]
    if missing:
        logger.info("naf_world: scoring baselines %s on %s", missing, scene)
        scores.update(score_baselines(eval_config, data, missing))
        write_json_atomic(baselines_path, {**identity, "scores": scores})
    return {
        "naf": metrics,
        "baselines": {m: scores[m] for m in methods},
        "trained": trained,
        "evaluated": evaluated,
    }


def _mean(values: Sequence[float]) -> tuple[float, int]:
    """Mean of the finite values (NaN if none) and how many were not finite."""
    array = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(array)
    return (float(array[finite].mean()) if finite.any() else float("nan")), int((~finite).sum())


def summarise(scenes: dict[str, dict], methods: Sequence[str]) -> dict:
    """{"rows": {scene: {row: scores}}, "average": {row: means}}; rows = NAF then the baselines."""
    rows: dict[str, dict] = {}
    for scene, outcome in scenes.items():
        naf = outcome["naf"]
        rows[scene] = {
            NAF_ROW: {
                **{k: naf["naf"][k] for k in (*METRICS, "t60_failures")},
                "parameters": naf.get("parameters"),
                "model_megabytes_fp32": naf.get("model_megabytes_fp32"),
                "training_seconds": naf.get("training_seconds"),
                "training_epochs": naf.get("training_epochs"),
            },
            **{label(m): outcome["baselines"][m] for m in methods},
        }
    average: dict[str, dict] = {}
    for row in (NAF_ROW, *(label(m) for m in methods)):
        entry: dict = {"scenes": len(rows)}
        for key in METRICS:
            entry[key], undefined = _mean([rows[scene][row][key] for scene in rows])
            if undefined:
                entry[f"{key}_undefined_scenes"] = undefined
        entry["t60_failures"] = int(sum(rows[scene][row]["t60_failures"] for scene in rows))
        if all("bytes_per_scene" in rows[scene][row] for scene in rows):
            entry["bytes_per_scene"] = float(np.mean([rows[scene][row]["bytes_per_scene"] for scene in rows]))
        if row == NAF_ROW:
            entry["model_megabytes_fp32"] = float(np.mean([rows[scene][row]["model_megabytes_fp32"] for scene in rows]))
        average[row] = entry
    return {"rows": rows, "average": average}


def _cell(value, digits: int) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _size(row: str, scores: dict) -> str:
    if "bytes_per_scene" in scores:
        return f"{scores['bytes_per_scene'] / 1e3:.1f} kB/scene"
    if row == NAF_ROW and scores.get("model_megabytes_fp32") is not None:
        return f"{scores['model_megabytes_fp32'] * 1e3:.1f} kB (fp32 weights)"
    if "bytes_per_rir" in scores:
        return f"{scores['bytes_per_rir']:.0f} B/RIR"
    if row in INTERPOLATIONS:
        return "all training RIRs (uncoded)"
    return "-"


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _metric_cells(scores: dict) -> list[str]:
    return [
        _cell(scores["spectral_error"], 4),
        f"{_cell(scores['t60_error_percent'], 2)} ({scores['t60_failures']})",
        _cell(scores["c50_error_db"], 3),
        _cell(scores["edt_error_seconds"], 4),
    ]


def markdown_table(summary: dict, header: dict) -> str:
    """The averaged table (the paper's shape), then every scene's rows and the average rows."""
    columns = ["spectral err", "T60 err % (failed)", "C50 err dB", "EDT err s", "size"]
    lines = [
        f"# NAF over a world: {len(summary['rows'])} scenes",
        "",
        f"World {header['data_root']} ({header['dataset']}), config {header['exp_config']}"
        + (f" with {' '.join(header['opts'])}" if header["opts"] else "")
        + f"; commit {header['commit']}; {header['date']}. Scores: the paper protocol on each scene's held-out "
        "items (prediction and ground truth share one random phase); T60 failures summed over scenes.",
        "",
        "## Average over scenes",
        "",
        _line(["method", *columns]),
        _line(["---"] * (len(columns) + 1)),
    ]
    for row, scores in summary["average"].items():
        lines.append(_line([row, *_metric_cells(scores), _size(row, scores)]))
    lines += ["", "## Per scene", "", _line(["scene", "method", *columns]), _line(["---"] * (len(columns) + 2))]
    for scene, rows in summary["rows"].items():
        for row, scores in rows.items():
            lines.append(_line([scene, row, *_metric_cells(scores), _size(row, scores)]))
    for row, scores in summary["average"].items():
        lines.append(_line(["average", row, *_metric_cells(scores), _size(row, scores)]))
    return "\n".join(lines) + "\n"


def git_commit() -> str:
    """The short commit of the code that made the table, "-dirty" with uncommitted changes ("unknown"
    outside a git checkout)."""
    try:
        folder = os.path.dirname(os.path.abspath(__file__))
        return subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=7"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_world(
    exp_config: str, root: str, opts: Sequence[str] = (), scenes: str = "", methods: Sequence[str] = METHODS
) -> dict:
    """Train, evaluate and tabulate every (or every requested) scene; writes <root>/naf_world.{json,md}."""
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; choose from {ALL_METHODS}")
    require_codec_tools(methods)
    config = get_config(exp_config, list(opts))
    names = world_scenes(config, scenes)
    outcomes = {scene: run_scene(exp_config, opts, scene, os.path.join(root, scene), methods) for scene in names}
    setup_logging(os.path.join(root, "naf_world.log"))
    header = {
        "exp_config": exp_config,
        "opts": list(opts),
        "data_root": config.WORLD.DATA_ROOT,
        "dataset": config.WORLD.DATASET,
        "commit": git_commit(),
        "date": datetime.date.today().isoformat(),
    }
    summary = summarise(outcomes, methods)
    payload = {
        **header,
        **summary,
        "runs": {s: {"trained": o["trained"], "evaluated": o["evaluated"]} for s, o in outcomes.items()},
    }
    write_json_atomic(os.path.join(root, "naf_world.json"), payload)
    write_bytes_atomic(os.path.join(root, "naf_world.md"), markdown_table(summary, header).encode())
    logger.info("naf_world: table of %d scenes -> %s", len(names), os.path.join(root, "naf_world.md"))
    return payload
