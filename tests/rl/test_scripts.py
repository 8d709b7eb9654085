"""scripts/find_best_checkpoint.py and scripts/compute_separation_quality.py on a tiny trained run."""

from __future__ import annotations

import json
import os
import sys

from audio_separation.rl.trainer import DDPPOTrainer
from tests.rl.conftest import TINY_RL

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import compute_separation_quality  # noqa: E402
import find_best_checkpoint  # noqa: E402


def test_pick_the_best_checkpoint_then_tabulate_agents(
    rl_config, tiny_world, separator_checkpoint, tmp_path, capsys
) -> None:
    model_dir = str(tmp_path / "run")
    DDPPOTrainer.from_config(rl_config(model_dir)).train()  # ckpt.2.pth and ckpt.3.pth
    root, _ = tiny_world
    opts = [
        "WORLD.DATA_ROOT",
        root,
        "WORLD.PRESET",
        "tiny",
        "RL.SEPARATOR_CHECKPOINT",
        separator_checkpoint,
        *TINY_RL,
        "EVAL.NUM_EPISODES",
        "2",
        "EVAL.MEDIA_EPISODES",
        "0",
    ]
    val = os.path.join(ROOT, "configs", "quickstart", "val")
    assert (
        find_best_checkpoint.main(
            [
                "--model-dir",
                model_dir,
                "--heard-config",
                f"{val}/nearTarget.yaml",
                "--unheard-config",
                f"{val}/nearTarget_unheard.yaml",
                *opts,
            ]
        )
        == 0
    )
    chosen = json.load(open(os.path.join(model_dir, "best_checkpoints.json")))
    for clips, split in (("heard", "val"), ("unheard", "valUnheard")):
        candidates = chosen[clips]["candidates"]
        assert [c["update"] for c in candidates] == [2, 3] and {c["split"] for c in candidates} == {split}
        assert chosen[clips]["stft_distance"] == min(c["stft_distance"] for c in candidates)
        assert os.path.isfile(os.path.join(model_dir, "data", f"best_ckpt_val_{clips}.pth"))

    test = os.path.join(ROOT, "configs", "quickstart", "test")
    assert (
        compute_separation_quality.main(
            [
                "--model-dir",
                model_dir,
                "--heard-config",
                f"{test}/nearTarget.yaml",
                "--unheard-config",
                f"{test}/nearTarget_unheard.yaml",
                "--agents",
                "policy,still",
                *opts,
            ]
        )
        == 0
    )
    results = json.load(open(os.path.join(model_dir, "separation_quality.json")))
    unheard = results["clips"]["unheard"]
    assert unheard["split"] == "testUnheard" and os.path.basename(unheard["checkpoint"]) == "best_ckpt_val_unheard.pth"
    assert set(unheard["agents"]) == {"policy", "still"}
    assert unheard["comparisons"]["policy refined - still refined"]["si_sdr"]["count"] == 2
    printed = capsys.readouterr().out
    assert "| policy | refined |" in printed and "policy refined - policy passive" in printed
    provenance = results["provenance"]
    assert provenance["commit"] and provenance["machine"] and provenance["clips"]["unheard"]["train_seed"] == 0
    assert len(provenance["clips"]["heard"]["eval_config_hash"]) == 12
    assert f"Produced by commit {provenance['commit']}" in printed

    # the README's results table is regenerated from the run dir, with the run's commit in each row
    import results_table

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{results_table.BEGIN}\nstale row\n{results_table.END}\nrest\n")
    assert results_table.main(["--run-dir", model_dir, "--write", str(readme)]) == 0
    text = readme.read_text()
    assert "stale row" not in text and text.startswith("intro\n") and text.endswith("rest\n")
    rows = [line for line in text.splitlines() if line.startswith("| 1 |")]
    assert len(rows) == 2 and all(f"| {provenance['commit']} |" in row for row in rows)

    # the paper's baselines on unheard clips only, into their own file: the main table is left alone
    before = open(os.path.join(model_dir, "separation_quality.json")).read()
    assert (
        compute_separation_quality.main(
            [
                "--model-dir",
                model_dir,
                "--unheard-config",
                f"{test}/nearTarget_unheard.yaml",
                "--agents",
                "policy,rotate",
                "--output",
                "baselines_quality",
                *opts,
            ]
        )
        == 0
    )
    baselines = json.load(open(os.path.join(model_dir, "baselines_quality.json")))
    assert set(baselines["clips"]) == {"unheard"} and set(baselines["clips"]["unheard"]["agents"]) == {
        "policy",
        "rotate",
    }
    assert "policy refined - rotate refined" in baselines["clips"]["unheard"]["comparisons"]
    # the trained agent is deterministic: the same episodes score the same as in the main table
    assert (
        baselines["clips"]["unheard"]["agents"]["policy"]["metrics"]
        == results["clips"]["unheard"]["agents"]["policy"]["metrics"]
    )
    assert open(os.path.join(model_dir, "separation_quality.json")).read() == before
    # ... and tabulated between their own markers, with a column per baseline agent
    benchmarks = tmp_path / "BENCHMARKS.md"
    benchmarks.write_text("<!-- baselines:begin -->\n<!-- baselines:end -->\n" + text)
    arguments = ["--run-dir", model_dir, "--input", "baselines_quality", "--marker", "baselines"]
    assert results_table.main([*arguments, "--write", str(benchmarks)]) == 0
    written = benchmarks.read_text()
    assert "| policy - rotate | reached target |" in written and "policy - still" not in written.split("intro")[0]
    assert written.endswith(text)  # the README's table after it is untouched


def test_quickstart_selection_and_test_configs_cover_enough_episodes_of_the_default_world() -> None:
    """Checkpoint selection scores every validation episode (50 of 100 left the choice within noise), and
    the unheard test meets the >= 100 episodes of the quality bar without asking for more than exist."""
    from audio_separation.config import get_config
    from audio_separation.world.builder import PRESETS

    available = PRESETS["default"].episodes
    for name in ("nearTarget.yaml", "nearTarget_unheard.yaml"):
        config = get_config(os.path.join(ROOT, "configs", "quickstart", "val", name))
        assert config.EVAL.NUM_EPISODES in (0, available[config.TASK.SPLIT]), name
    unheard = get_config(os.path.join(ROOT, "configs", "quickstart", "test", "nearTarget_unheard.yaml"))
    scored = (
        unheard.EVAL.NUM_EPISODES if unheard.EVAL.NUM_EPISODES > 0 else available["testUnheard"]
    )  # 0 = every episode
    assert unheard.TASK.SPLIT == "testUnheard" and 100 <= scored <= available["testUnheard"]


def _config_and_overrides(arguments: list[str]) -> tuple[list[str], list[str]]:
    """The yaml paths and the trailing KEY VALUE overrides of one quickstart stage's arguments."""
    paths, index = [], 0
    while index < len(arguments) and arguments[index].startswith("--"):
        flag = arguments[index]
        if flag == "--overwrite":
            index += 1
            continue
        if flag in ("--exp-config", "--heard-config", "--unheard-config"):
            paths.append(arguments[index + 1])
        index += 2
    return paths, arguments[index:]


def test_quickstart_benchmark_preset_points_every_stage_at_the_benchmark_world() -> None:
    """--preset benchmark: every stage (world, passive, RL, selection, test) reads data/worlds/benchmark with
    the run's seed; selection scores every validation episode and the test every one of the 1,000 unheard
    episodes; the default preset's stages still read the default world."""
    import quickstart

    from audio_separation.config import get_config
    from audio_separation.world.builder import PRESETS

    assert quickstart.default_runs_dir("benchmark", 1) == "runs/quickstart_benchmark_seed1"
    assert quickstart.default_runs_dir("default", 0) == "runs/quickstart"
    main_stages, script_stages = quickstart.stages("runs/quickstart_benchmark_seed1", 1, "benchmark")
    named = [("main", stage) for stage in main_stages] + list(script_stages)
    assert [name for name, _ in named[-2:]] == ["find_best_checkpoint", "compute_separation_quality"]
    for name, arguments in named:
        paths, overrides = _config_and_overrides(arguments)
        assert paths, (name, arguments)
        for path in paths:
            config = get_config(os.path.join(ROOT, path), overrides)
            assert (config.WORLD.DATA_ROOT, config.WORLD.PRESET) == ("data/worlds/benchmark", "benchmark"), path
            if config.TRAINER_NAME != "world":
                assert config.SEED == 1 or name != "main", path
            if name == "find_best_checkpoint":
                assert config.EVAL.NUM_EPISODES == 0, path  # every val episode (200), as on the default world
            if name == "compute_separation_quality" and config.TASK.SPLIT == "testUnheard":
                assert config.EVAL.NUM_EPISODES == 0 and PRESETS["benchmark"].episodes["testUnheard"] >= 1000
    for arguments in quickstart.stages("runs/quickstart", 0)[0]:
        paths, overrides = _config_and_overrides(arguments)
        assert get_config(os.path.join(ROOT, paths[0]), overrides).WORLD.DATA_ROOT == "data/worlds/default"
    import pytest

    with pytest.raises(ValueError, match="unknown quickstart preset 'huge'"):
        quickstart.stages("runs/x", 0, "huge")
