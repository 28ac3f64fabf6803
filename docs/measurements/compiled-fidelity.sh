#!/usr/bin/env bash
# Detached on the device: a copy of the tree in /tmp/mb, logs in /tmp/logs. Ready after session 21
# (2026-12-06) for a lease of an H100 (about 10 device minutes after the installs), or as the end of
# a longer one. Why: tools.fidelity has checked mlx_gpu and cuda right after their own run (session
# 20: 89 of 90 cases of 0.2 ms or more within 5 %), never compiled MLX: its rows there compared
# with figures of another day. K: make bench's compiled-MLX latency (three asv runs), then
# tools.fidelity on that backend alone in K's copy, with the CUDA driver's events.
source docs/measurements/pipeline-start.sh

bench_run K 900 mlx_gpu_compile latency-compiled --bench time_latency
mark "start fidelity of K"
MLXBENCH_BACKENDS=mlx_gpu_compile timeout 600 python3 -m tools.fidelity --machine $M --events driver \
  --output $L/fidelity-K.md > $L/fidelity-K.log 2>&1
mark "end fidelity rc=$?: $(grep -io 'within 5 %[^|]*' $L/fidelity-K.md | head -2 | tr '\n' ';')"
mark "all done"
