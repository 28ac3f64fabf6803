#!/usr/bin/env bash
# Detached on the device: a copy of the tree in /tmp/mb, logs in /tmp/logs. For a lease too short for
# session-23-pipeline.sh (session 23: refused starts left 614 s, about 410 after the installs): the
# issue's GPU half, strict only (`MLXBENCH_PRECISIONS=strict`, float32 latency on mlx_gpu and cuda),
# twice, each from no results of this machine, then tools.stability between them. With a CPU pass
# timed on the same kind of host (519 s, 2026-12-06) it gives the full run's time by its parts, and
# the back-to-back comparison under the current harness. (The MLX preload probe it began with ran on
# 2026-12-07: it saves at most 0.05 s a process, so it is left out.)
# SELECT narrows the runs for a dry run here (default: the latency benchmarks); GPU_ROUNDS, if set,
# gives make bench's --gpu-rounds (default: OpBenchmark.gpu_rounds, 3).
source docs/measurements/pipeline-start.sh

rm -rf /tmp/mb/results/$M
export MLXBENCH_PRECISIONS=strict
half() {
  bench_run $1 600 mlx_gpu,cuda latency --bench "${SELECT:-time_latency}" ${GPU_ROUNDS:+--gpu-rounds $GPU_ROUNDS}
  mark "passes $1: $(grep '^time:' $L/latency-$1.log | tr '\n' ';')"
}
half S1
half S2
stability_pair S1 S2
mark "all done"
