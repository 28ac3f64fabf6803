#!/usr/bin/env bash
# Detached on the device, for the last minutes of a lease (about 2 device minutes after the
# installs). Why: compiled MLX's fidelity (2026-12-07, h100-2026-12-07c) read asv above the events in
# 7 of the 8 cases whose two sides' processes were apart, MatMul `64x1000000` the clearest (asv's
# processes 0.458-0.623 ms, events 0.385-0.387), and no plain backend was checked on that host. C:
# the strict MatMul family alone on mlx_gpu and mlx_gpu_compile, from no results, then tools.fidelity
# on both right after: plain and compiled on one host, to tell the backend from the host.
source docs/measurements/pipeline-start.sh

rm -rf /tmp/mb/results/$M
export MLXBENCH_PRECISIONS=strict
bench_run C 150 mlx_gpu,mlx_gpu_compile latency --bench 'MatMul.time_latency$'
mark "start fidelity of C"
MLXBENCH_BACKENDS=mlx_gpu,mlx_gpu_compile timeout 120 python3 -m tools.fidelity --machine $M --events driver \
  --output $L/fidelity-C.md > $L/fidelity-C.log 2>&1
mark "end fidelity rc=$?: $(grep -o '^[0-9]* of [0-9]* cases[^;]*' $L/fidelity-C.md | head -1)"
mark "all done"
