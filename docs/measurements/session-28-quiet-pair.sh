#!/usr/bin/env bash
# Detached on the device, for a whole lease of an H100 (about 12 device minutes after the installs).
# Why: both pairs with four processes a figure came from busy hosts (h100-2026-12-07d, -07e), and the
# one quiet pair (-07b, three processes) missed on 4 figures, all mlx_gpu under 0.2 ms, where an MLX
# process on the CPU that takes the GPU's interrupts runs slower (docs/timing-checks.md). So:
# 1. the floor and ReLU through `make bench` (about 1 minute), with `--avoid-gpu-interrupts` as the
#    pair runs (torch: x1.353 without it in -07g, x1.355 with it in -07h). If torch's processes
#    differed by more than x1.05 (BUSY_SPREAD; the same 16 figures read x1.016 and x1.034 in the
#    quiet -07b's two runs, x1.19-1.55 in the busy -07g's and -07h's, so the check is not misled by
#    being the machine's first minute; MLX's own spread is higher on any host), stop: give the lease
#    back and stage another;
# 2. otherwise the strict float32 latency half twice with `--avoid-gpu-interrupts` (three processes a
#    figure), then tools.stability between them, to hold against -07b's 4 of 177.
# Stage it with `bash docs/measurements/stage-lease.sh docs/measurements/session-28-quiet-pair.sh`.
source docs/measurements/pipeline-start.sh

rm -rf /tmp/mb/results/$M
# BUSY_LIMIT=99 runs the pair whatever the host; BUSY_LIMIT=skip skips step 1 too (a last lease with
# little device time left: the runs' own notes still say how busy the host was)
busy_limit=${BUSY_LIMIT:-1.05}
if [ "$busy_limit" != skip ]; then
  bench_run F 150 mlx_gpu,cuda latency --bench 'bench_floor|ReLU\.time_latency' --avoid-gpu-interrupts
  mark "F: $(grep -E '^note: ' $L/latency-F.log)"
  torch_spread=$(grep -o 'x[0-9.]* (cuda)' $L/latency-F.log | head -1 | tr -dc '0-9.')
  if [ -z "$torch_spread" ] || awk -v s="$torch_spread" -v limit="$busy_limit" 'BEGIN { exit !(s > limit) }'; then
    mark "busy (cuda x${torch_spread:-?}): give the lease back and start another"
    mark "all done"
    exit 0
  fi
fi

export MLXBENCH_PRECISIONS=strict
for run in Q1 Q2; do
  bench_run $run 600 mlx_gpu,cuda latency --bench time_latency --avoid-gpu-interrupts
  mark "passes $run: $(grep -E '^(time|note):' $L/latency-$run.log | tr '\n' ';')"
done
stability_pair Q1 Q2
mark "all done"
