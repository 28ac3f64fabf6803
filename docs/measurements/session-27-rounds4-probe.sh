#!/usr/bin/env bash
# Detached on the device, for a whole lease of an H100 (about 16 device minutes after the installs):
# session-25-rounds4.sh (the whole GPU half twice with `--gpu-rounds 4`, then tools.stability between
# them), then session-26-compiled-probe.sh's strict MatMul family on mlx_gpu and mlx_gpu_compile with
# tools.fidelity on both, so that one lease answers both open questions. The halves' results stay in
# $L/results-S1 and -S2; the probe starts from no results of its own. (As run on 2026-12-07 the
# probe's --bench pattern ended in '$' and selected nothing; mended, and now `compiled_probe`.)
export GPU_ROUNDS=4
source docs/measurements/pipeline-start.sh

rm -rf /tmp/mb/results/$M
export MLXBENCH_PRECISIONS=strict
half() {
  bench_run $1 600 mlx_gpu,cuda latency --bench time_latency --gpu-rounds $GPU_ROUNDS
  mark "passes $1: $(grep '^time:' $L/latency-$1.log | tr '\n' ';')"
}
half S1
half S2
stability_pair S1 S2

compiled_probe
mark "all done"
