#!/usr/bin/env bash
# Detached on the device: a copy of the tree in /tmp/mb, logs in /tmp/logs. Ready after session 22
# (2026-12-06) for a lease of an H100 (about 23 device minutes after the installs, which take about
# 200 s: with less than about 1600 s of the budget left, stage session-23-halves.sh instead).
# Why: issue 5's full suite is the reference table's 61 cases, float32, on mlx_gpu, mlx_cpu, cpu and
# cuda, in at most 15 minutes, and two runs back to back agree. No lease has timed that run whole:
# its halves were timed apart (CPU pass 519 s, 2026-12-06; GPU latency half 529 s with both
# precision modes on h100-2026-12-06g, of which about 120 s were tf32's processes). R: that run, one
# command, strict only (the reference table's precision; tf32 is this suite's extra dimension). S:
# its GPU half again right after, for the back-to-back comparison with R's GPU figures.
# Both start from no results of this machine, so the comparison holds only what each run measured.
# SELECT narrows the runs for a dry run here (default: the latency benchmarks, as the README's line).
# (The MLX preload probe it ended with ran on 2026-12-07: it saves at most 0.05 s a process, so it is
# left out.)
# Ran whole on 2026-12-07 (session 25; docs/measurements/h100-2026-12-07b/): R 776 s, S 288 s.
source docs/measurements/pipeline-start.sh

rm -rf /tmp/mb/results/$M
export MLXBENCH_PRECISIONS=strict
bench_run R 1500 mlx_gpu,mlx_cpu,cpu,cuda reference --bench "${SELECT:-time_latency}"
mark "passes R: $(grep '^time:' $L/reference-R.log | tr '\n' ';')"
bench_run S 700 mlx_gpu,cuda latency --bench "${SELECT:-time_latency}"
mark "passes S: $(grep '^time:' $L/latency-S.log | tr '\n' ';')"
stability_pair R S
# P (about 30 s): tools.process_cost on both GPU backends, a family with matmuls and one without:
# session 22's mend of it (0805d37), first run on the GPU on 2026-12-07, kept as a check.
cd /tmp/mb && for b in cuda mlx_gpu; do
  timeout 120 python3 -m tools.process_cost "MatMul / dim=1000x64x256 dim=256x32" "Floor / dim=1" --backend $b
done > $L/process-cost.txt 2>&1
mark "end P: $(grep -c '^| median' $L/process-cost.txt) of 4 tables"
mark "all done"
