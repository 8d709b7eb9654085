#!/usr/bin/env bash
# GPU readiness and throughput in one prepared run of at most ~8 minutes (each step has its own timeout;
# a failed or timed-out step is reported and the next one runs). Appends dated rows to BENCHMARKS.md.
#
#   bash scripts/bench/gpu.sh                  # on a machine with CUDA and this project's requirements
#   GPU_BENCH_DRY_RUN=1 bash scripts/bench/gpu.sh   # the preflight and the steps' commands only (no GPU needed)
#
# On a machine whose Python holds torch but not this project's other requirements (a CUDA image with no
# package index), fetch their wheels here first and carry the folder along:
#
#   bash scripts/bench/gpu_wheels.sh .whl 3.12   # here: cp312 wheels of what a torch image lacks
#   PYTHON=/opt/torch/.venv/bin/python3 GPU_BENCH_WHEELS=.whl GPU_BENCH_OUT=/some/dir bash scripts/bench/gpu.sh
#
# PYTHON: the interpreter (default python3; every step runs "$PYTHON", never a bare `python`).
# GPU_BENCH_WHEELS: a folder of wheels installed (no index, no deps) into a temporary folder put on
# PYTHONPATH. GPU_BENCH_OUT: a folder that receives gpu.log (everything printed) and BENCHMARKS.md.
# The preflight imports every requirement under a 60-s timeout, so a broken interpreter fails in seconds.
#
# Steps: 1. the tests marked cuda (each trainer for a few steps on CUDA: passive, ddppo with the sync and
# the batched env, naf; the batched env on CUDA against the CPU sync env); 2. env-only steps/s of the
# batched env on CUDA at N = 64, 256, 1024 (exact and fast STFT); 3. RL training steps/s at paper model
# sizes, today's default path against the batched env on CUDA at N = 14, 64, 256; 4. DD-PPO with NCCL,
# 2 processes (needs 2 GPUs: NCCL refuses two ranks on one device); 5. NAF training queries/s.
# Step 0 builds the default world (data/worlds/default) if absent (73 s with 2 workers on 2 cores; here with 6),
# so no bench times the build. Measured on one H200 (2026-12-04, f7e90a9): world 25 s, cuda tests 44 s, env 58 s,
# RL 33 s, NAF 131 s (5 s of training, the rest its CPU-bound evaluation): the caps below leave ~1.5x room.
set -u
SCRIPT="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/../.."
DRY="${GPU_BENCH_DRY_RUN:-0}"
NOTE="${GPU_BENCH_NOTE:-scripts/bench/gpu.sh}"
PY="${PYTHON:-python3}"
OUTDIR="${GPU_BENCH_OUT:-}"
FAILED=()

if [ -n "$OUTDIR" ] && [ -z "${GPU_BENCH_LOGGING:-}" ]; then  # rerun this script with its output in gpu.log
    mkdir -p "$OUTDIR"
    set -o pipefail
    GPU_BENCH_LOGGING=1 bash "$SCRIPT" "$@" 2>&1 | tee "$OUTDIR/gpu.log"
    status=$?
    cp BENCHMARKS.md "$OUTDIR/BENCHMARKS.md" || true
    exit "$status"
fi

timeout 30 "$PY" -c "import torch" || { echo "preflight: $PY cannot import torch within 30 s"; exit 4; }
source scripts/bench/gpu_env.sh
gpu_python_path || exit 3
echo "=== preflight: $PY imports the requirements"
# one interpreter start checks the imports, reports them (stderr) and gives the GPU count (stdout)
GPUS=$(timeout 60 "$PY" -c "
import sys, torch, numpy, scipy, librosa, pyroomacoustics, soundfile, yacs, gymnasium, h5py, networkx, pretty_midi
import audio_separation
print(sys.executable, 'torch', torch.__version__, 'numpy', numpy.__version__, 'CUDA', torch.cuda.is_available(), file=sys.stderr)
print(torch.cuda.device_count())
") || { echo "preflight: $PY cannot import this project's requirements (see above)"; exit 4; }

step() {  # step NAME SECONDS COMMAND...
    local name="$1" seconds="$2"
    shift 2
    echo "=== ${name} (at most ${seconds} s): $*"
    if [ "$DRY" = "1" ]; then
        return 0
    fi
    local started=$SECONDS
    timeout --signal=TERM --kill-after=10 "$seconds" "$@"
    local status=$?
    echo "=== ${name}: exit ${status} after $((SECONDS - started)) s"
    [ "$status" -eq 0 ] || FAILED+=("${name} (exit ${status})")
}

if [ "$DRY" != "1" ]; then
    [ "$GPUS" -ge 1 ] || { echo "no CUDA: run with GPU_BENCH_DRY_RUN=1 to print the steps"; exit 1; }
    nvidia-smi --query-gpu=name,memory.total,utilization.gpu --format=csv || true
fi

if [ -d data/worlds/default/metadata ] && [ "$DRY" != "1" ]; then
    echo "=== default world: present at data/worlds/default"
else  # 6 workers, one per scene (the world stage uses 2); world.py appends a world-builder row too
    step "default world (built if absent)" 60 \
        "$PY" scripts/bench/world.py --output-dir data/worlds/default --workers 6
fi
step "cuda tests" 90 "$PY" -m pytest -q -s -m cuda -p no:cacheprovider tests
step "env: batched on CUDA, N = 64..1024" 80 \
    "$PY" scripts/bench/env.py --batched 64 256 1024 --grouped-sizes --device cuda --vector-steps 40 --note "$NOTE"
step "RL: paper sizes, default path vs batched on CUDA" 80 \
    "$PY" scripts/bench/rl.py --sizes paper --batched-envs 14 64 256 --device cuda --timed-updates 2 --note "$NOTE"
if [ "$GPUS" -ge 2 ] || [ "$DRY" = "1" ]; then
    step "DD-PPO, NCCL, 2 processes (quickstart sizes)" 60 \
        "$PY" scripts/bench/rl.py --sizes quickstart --workers 2 --timed-updates 2 --note "$NOTE; NCCL"
else
    echo "=== DD-PPO with NCCL skipped: ${GPUS} GPU(s), NCCL needs one per process"
fi
step "NAF training queries/s" 160 "$PY" scripts/bench/naf.py --run-dir /tmp/bench_naf_gpu --no-baselines NUM_EPOCHS 2 NAF.EVAL_PLOTS False

if [ "${#FAILED[@]}" -gt 0 ]; then
    printf 'FAILED: %s\n' "${FAILED[@]}"
    exit 1
fi
if [ "$DRY" = "1" ]; then
    echo "dry run: the preflight passed; no step ran"
else
    echo "all steps done; rows appended to BENCHMARKS.md"
fi
