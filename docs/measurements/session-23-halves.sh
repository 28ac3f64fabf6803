#!/usr/bin/env bash
# Detached on the device: a copy of the tree in /tmp/mb, logs in /tmp/logs. For a lease too short for
# session-23-pipeline.sh (session 23: refused starts left 614 s, about 410 after the installs): the
# issue's GPU half, strict only (`MLXBENCH_PRECISIONS=strict`, float32 latency on mlx_gpu and cuda),
# twice, each from no results of this machine, then tools.stability between them; the MLX preload
# probe first (a minute, whole even where the lease cuts a half). With a CPU pass timed on the same
# kind of host (519 s, 2026-12-06) it gives the full run's time by its parts, and the back-to-back
# comparison under the current harness.
# SELECT narrows the runs for a dry run here (default: the latency benchmarks).
source docs/measurements/pipeline-start.sh

rm -rf /tmp/mb/results/$M
export MLXBENCH_PRECISIONS=strict
half() {
  bench_run $1 600 mlx_gpu,cuda latency --bench "${SELECT:-time_latency}"
  mark "passes $1: $(grep '^time:' $L/latency-$1.log | tr '\n' ';')"
  cd /tmp/mb
}
mark "start M: MLX's libraries loaded before the fork"
for mode in none libmlx core none; do timeout 120 python3 docs/measurements/mlx-preload-probe.py $mode; done \
  > $L/mlx-preload.txt 2>&1
mark "end M: $(grep -c 'exit code 0' $L/mlx-preload.txt) processes"
half S1
half S2
cd /tmp/mb && python3 -m tools.stability $L/results-S1 $L/results-S2 --machine $M --backends mlx_gpu,cuda \
  --dtypes float32 --bench 'time_latency$' > $L/stability-pair.txt 2>&1
mark "stability: $(grep -o 'median change [0-9.]*%.*beyond x1.1: [0-9]*' $L/stability-pair.txt | head -1)"
mark "all done"
