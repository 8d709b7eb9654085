#!/usr/bin/env bash
# GPU readiness and throughput in one prepared run of at most ~8 minutes (each step has its own timeout;
# a failed or timed-out step is reported and the next one runs). Appends dated rows to BENCHMARKS.md.
#
#   bash scripts/bench/gpu.sh                  # on a machine with CUDA
#   GPU_BENCH_DRY_RUN=1 bash scripts/bench/gpu.sh   # print the steps only (CPU, no GPU needed)
#
# Steps: 1. the tests marked cuda (each trainer for a few steps on CUDA: passive, ddppo with the sync and
# the batched env, naf; the batched env on CUDA against the CPU sync env); 2. env-only steps/s of the
# batched env on CUDA at N = 64, 256, 1024 (exact and fast STFT); 3. RL training steps/s at paper model
# sizes, today's default path against the batched env on CUDA at N = 14, 64, 256; 4. DD-PPO with NCCL,
# 2 processes (needs 2 GPUs: NCCL refuses two ranks on one device); 5. NAF training queries/s.
# Step 0 builds the default world (data/worlds/default) if absent (73 s with 2 workers on 2 cores; here with 6),
# so no bench times the build.
set -u
cd "$(dirname "$0")/../.."
export PYTHONPATH="${PWD}${PYTHONPATH:+:$PYTHONPATH}"
DRY="${GPU_BENCH_DRY_RUN:-0}"
NOTE="${GPU_BENCH_NOTE:-scripts/bench/gpu.sh}"
FAILED=()

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
    python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA: run with GPU_BENCH_DRY_RUN=1 to print the steps')" || exit 1
    nvidia-smi --query-gpu=name,memory.total,utilization.gpu --format=csv || true
fi
GPUS=$(python -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)

if [ -d data/worlds/default/metadata ] && [ "$DRY" != "1" ]; then
    echo "=== default world: present at data/worlds/default"
else  # 6 workers, one per scene (the world stage uses 2); world.py appends a world-builder row too
    step "default world (built if absent)" 80 \
        python scripts/bench/world.py --output-dir data/worlds/default --workers 6
fi
step "cuda tests" 100 python -m pytest -q -m cuda -p no:cacheprovider tests
step "env: batched on CUDA, N = 64..1024" 90 \
    python scripts/bench/env.py --batched 64 256 1024 --grouped-sizes --device cuda --vector-steps 40 --note "$NOTE"
step "RL: paper sizes, default path vs batched on CUDA" 140 \
    python scripts/bench/rl.py --sizes paper --batched-envs 14 64 256 --device cuda --timed-updates 2 --note "$NOTE"
if [ "$GPUS" -ge 2 ] || [ "$DRY" = "1" ]; then
    step "DD-PPO, NCCL, 2 processes (quickstart sizes)" 60 \
        python scripts/bench/rl.py --sizes quickstart --workers 2 --timed-updates 2 --note "$NOTE; NCCL"
else
    echo "=== DD-PPO with NCCL skipped: ${GPUS} GPU(s), NCCL needs one per process"
fi
step "NAF training queries/s" 75 python scripts/bench/naf.py --run-dir /tmp/bench_naf_gpu --no-baselines NUM_EPOCHS 2 NAF.EVAL_PLOTS False

if [ "${#FAILED[@]}" -gt 0 ]; then
    printf 'FAILED: %s\n' "${FAILED[@]}"
    exit 1
fi
echo "all steps done; rows appended to BENCHMARKS.md"
