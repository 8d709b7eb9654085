# Sourced by scripts/bench/gpu.sh and gpu_ppo.sh: with GPU_BENCH_WHEELS set, install that folder's wheels (no
# index, no deps) into a temporary folder and put it on PYTHONPATH; then put the repository root on PYTHONPATH
# and unbuffer Python. Needs PY (the interpreter); returns 3 when the install fails.
gpu_python_path() {
    if [ -n "${GPU_BENCH_WHEELS:-}" ]; then
        local site
        site="$(mktemp -d "${TMPDIR:-/tmp}/gpu_site.XXXXXX")"
        timeout 120 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" \
            "$GPU_BENCH_WHEELS"/*.whl || { echo "preflight: installing the wheels of $GPU_BENCH_WHEELS failed"; return 3; }
        export PYTHONPATH="${site}${PYTHONPATH:+:$PYTHONPATH}"
    fi
    export PYTHONPATH="${PWD}${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
}
