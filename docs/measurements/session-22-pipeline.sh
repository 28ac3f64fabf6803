#!/usr/bin/env bash
# Detached on the device: a copy of the tree in /tmp/mb, logs in /tmp/logs. Ready in session 22
# (2026-12-06) for a lease of an H100 (about 23 device minutes of work after the installs).
# Why: make bench's GPU half took about 29 minutes on the sixth H100 of 2026-12-06 (h100-2026-12-06f):
# 0.8 s an asv process, of which its samples were 0.05 s, and 0.52 s for the floor, an empty op. C
# says where a GPU process's time goes (tools.process_cost, five processes a row), the first place to
# look for the 15 minutes issue 5 asks for. Since session 22 only the families that multiply matrices
# run the suite's precision check (a matmul); C-old times the floor's process with the check still in
# (the harness of 68171ff), the cost the others no longer pay. F, the floor under asv, to hold C's
# totals against (0.52 s a process on 2026-12-06, with the check). Then session 20's P, A and B
# (interrupts-and-pair.sh): A and B time the float32 latency half (441-613 s before).
source docs/measurements/pipeline-start.sh

cost() {  # the rest: tools.process_cost arguments
  echo "## $*"
  timeout 300 python3 -m tools.process_cost "$@" --processes 5
}
mark "start C: tools.process_cost"
{ for backend in mlx_gpu cuda mlx_gpu_compile; do
    for metric in latency throughput; do cost "Floor / dim=1" --backend $backend --metric $metric; done
  done
  for backend in mlx_gpu cuda; do
    cost "GELU / dim=8x1024x4096" "Softmax / dim=64x1000000 axi=-1" "MatMul / dim=1000x64x256 dim=256x32" \
      "Sort / dim=64x128x1024 axi=2" --backend $backend
  done; } > $L/process-cost.txt 2>&1
mark "end C: $(grep -c '^| median' $L/process-cost.txt) rows"
rm -rf /tmp/mb-old && cp -a /tmp/mb /tmp/mb-old && cd /tmp/mb-old
if git checkout -q 68171ff -- benchmarks tools; then
  { for backend in mlx_gpu cuda; do cost "Floor / dim=1" --backend $backend; done; } > $L/process-cost-old.txt 2>&1
  mark "end C-old: $(grep -c '^| median' $L/process-cost-old.txt) rows (the floor with the precision check)"
else mark "C-old skipped: no commit 68171ff in the copy"; fi
cd /tmp/mb
# The floor under asv itself, one asv run: its processes' durations (asv's own, in results-F) against C's totals.
bench_run F 180 mlx_gpu,cuda,mlx_gpu_compile floor --gpu-rounds 1 --bench '^bench_floor\.'
cd /tmp/mb
source docs/measurements/interrupts-and-pair.sh
mark "all done"
