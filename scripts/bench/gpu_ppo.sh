#!/usr/bin/env bash
# Plain PPO (#17.2) at large batch on one GPU, in one prepared device call: three quickstart-size RL runs side by
# side on the batched env on CUDA, none with imitation, for at most PPO_SECONDS each; their newest checkpoints
# come back without optimizer states (~15 MiB each) with the runs' logs, to be tested on the CPU.
#
#   here:   bash scripts/bench/gpu_wheels.sh .whl 3.12
#           python scripts/bench/gpu_ppo_carry.py runs/quickstart/passive/data/best_ckpt_nonoverlapping_val.pth .gpu_ppo
#   device: PYTHON=/opt/torch/.venv/bin/python3 GPU_BENCH_WHEELS=.whl PPO_OUT=$OUT bash scripts/bench/gpu_ppo.sh
#           (carry [".whl", ".gpu_ppo"])
#   here:   python scripts/bench/gpu_ppo_carry.py --join /work/.device/N runs/gpu_ppo
#
# Runs (all: configs/quickstart/train/nearTarget.yaml, RL.IMITATION.UPDATES 0, PPO_ENVS envs per update, lr 2.5e-4):
#   paper_posegain   the paper's policy inputs (no interaural bands, no previous action), RL.REWARD pose_gain
#   paper_reward     the paper's policy inputs and reward (negative_error): the paper's configuration
#   extras_posegain  this project's two extra inputs, RL.REWARD pose_gain
# PPO_ENVS (128), PPO_UPDATES (120), PPO_SECONDS (220), PPO_DEVICE (cuda), PPO_RUNS (all three) override.
set -u
cd "$(dirname "$0")/../.."
PY="${PYTHON:-python3}"
OUTDIR="${PPO_OUT:-runs/gpu_ppo_out}"
ENVS="${PPO_ENVS:-128}"
UPDATES="${PPO_UPDATES:-120}"
SECONDS_CAP="${PPO_SECONDS:-220}"
DEVICE="${PPO_DEVICE:-cuda}"
RUNS="${PPO_RUNS:-paper_posegain paper_reward extras_posegain}"
SEPARATOR="${PPO_SEPARATOR:-.gpu_ppo/separator.pth}"
mkdir -p "$OUTDIR" runs/gpu_ppo
exec > >(tee "$OUTDIR/ppo.log") 2>&1

source scripts/bench/gpu_env.sh
gpu_python_path || exit 3
timeout 60 "$PY" -c "import torch, yacs, librosa, audio_separation; print('torch', torch.__version__, 'CUDA', torch.cuda.is_available())" \
    || { echo "preflight: $PY cannot import the requirements"; exit 4; }
[ -f "$SEPARATOR" ] || { echo "no separator at $SEPARATOR (see the header)"; exit 2; }
STAY_SENSORS="['MIXED_BINAURAL_MAGNITUDE', 'MIXED_BINAURAL_STAY', 'GT_MONO', 'TARGET_CLASS', 'POSE', 'RGB']"
PAPER_INPUTS=(RL.POLICY.INTERAURAL_BANDS 0 RL.POLICY.PREVIOUS_ACTION_SIZE 0)
POSE_GAIN=(RL.REWARD pose_gain TASK.SENSORS "$STAY_SENSORS")
run_overrides() {  # run_overrides NAME: the run's overrides in the array `extra`; 1 for an unknown name
    case "$1" in
        paper_posegain) extra=("${PAPER_INPUTS[@]}" "${POSE_GAIN[@]}") ;;
        paper_reward) extra=("${PAPER_INPUTS[@]}") ;;
        extras_posegain) extra=("${POSE_GAIN[@]}") ;;
        *) return 1 ;;
    esac
}
for run in $RUNS; do
    run_overrides "$run" || { echo "unknown run $run (expected paper_posegain, paper_reward, extras_posegain)"; exit 2; }
done
if [ ! -d data/worlds/default/metadata ]; then
    timeout 90 "$PY" scripts/bench/world.py --output-dir data/worlds/default --workers 6 > runs/gpu_ppo/world.log 2>&1 \
        || { echo "world build failed"; tail -5 runs/gpu_ppo/world.log; exit 5; }
fi

started=$SECONDS
pids=()
for run in $RUNS; do
    run_overrides "$run"
    rm -rf "runs/gpu_ppo/$run"  # a run that fails before --overwrite acts must not pack an older run's checkpoint
    timeout --signal=KILL "$SECONDS_CAP" "$PY" main.py --exp-config configs/quickstart/train/nearTarget.yaml \
        --run-type train --model-dir "runs/gpu_ppo/$run" --overwrite SEED 0 RL.SEPARATOR_CHECKPOINT "$SEPARATOR" \
        RL.IMITATION.UPDATES 0 ENV.VECTOR_ENV_TYPE batched ENV.DEVICE "$DEVICE" NUM_PROCESSES "$ENVS" \
        RL.PPO.NUM_MINI_BATCH 4 RL.PPO.LR 2.5e-4 RL.NUM_THREADS 4 NUM_UPDATES "$UPDATES" CHECKPOINT_INTERVAL 10 \
        LOG_INTERVAL 5 "${extra[@]}" > "runs/gpu_ppo/$run.console.log" 2>&1 &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; echo "run $pid: exit $?"; done
echo "training: $((SECONDS - started)) s"
for run in $RUNS; do
    echo "--- $run"
    tr '\r' '\n' < "runs/gpu_ppo/$run.console.log" | grep "INFO update\|Error\|error" | tail -4
done
"$PY" scripts/bench/gpu_ppo_carry.py --pack runs/gpu_ppo "$OUTDIR" $RUNS
ls -la "$OUTDIR"
