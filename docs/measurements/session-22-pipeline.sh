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
# I: what the CPU pass's processes and asv starts pay for the GPU being there. `import mlx.core` makes
# a CUDA context (backends.py), so every mlx_cpu process of the CPU pass may pay for one; with
# CUDA_VISIBLE_DEVICES= the CPU pass could skip it, if MLX's CUDA build runs its CPU device then.
mark "start I: imports, CPU-backend processes and asv starts, GPU visible and hidden"
python3 -m asv machine --yes --machine $M > /dev/null 2>&1
for gpu in visible hidden; do
  if [ $gpu = hidden ]; then export CUDA_VISIBLE_DEVICES=; fi
  echo "## GPU $gpu"
  for i in 1 2 3; do
    python3 -c "import time; t=time.perf_counter(); import torch; print('torch import s', round(time.perf_counter()-t, 3))"
    python3 -c "import time; t=time.perf_counter(); import mlx.core as mx; a=time.perf_counter(); mx.set_default_device(mx.cpu)
mx.eval(mx.ones(3) + 1); print('mlx import s', round(a-t, 3), 'first cpu call s', round(time.perf_counter()-a, 3))"
    TIMEFORMAT="asv start (a dry run of the cpu floor) %R s"
    time (MLXBENCH_BACKENDS=cpu python3 -m asv run --python=same --machine $M \
      --bench '^bench_floor\.Floor\.time_latency\(' --quick --dry-run > /dev/null 2>&1)
  done
  cost "Floor / dim=1" "Softmax / dim=64x1000000 axi=-1" --backend mlx_cpu
  cost "Floor / dim=1" --backend cpu
  unset CUDA_VISIBLE_DEVICES
done > $L/imports.txt 2>&1
mark "end I: $(grep -c '^| median' $L/imports.txt) rows"
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
  { for backend in mlx_gpu cuda; do cost "Floor / dim=1" --backend $backend; done
    for i in 1 2 3; do  # before session 22 asv's discovery imported torch too
      TIMEFORMAT="asv start (a dry run of the cpu floor), harness 68171ff %R s"
      time (MLXBENCH_BACKENDS=cpu python3 -m asv run --python=same --machine $M \
        --bench '^bench_floor\.Floor\.time_latency\(' --quick --dry-run > /dev/null 2>&1)
    done; } > $L/process-cost-old.txt 2>&1
  mark "end C-old: $(grep -c '^| median' $L/process-cost-old.txt) rows (the floor with the precision check)"
else mark "C-old skipped: no commit 68171ff in the copy"; fi
cd /tmp/mb
# The floor under asv itself, one asv run: its processes' durations (asv's own, in results-F) against C's totals.
bench_run F 180 mlx_gpu,cuda,mlx_gpu_compile floor --gpu-rounds 1 --bench '^bench_floor\.'
cd /tmp/mb
source docs/measurements/interrupts-and-pair.sh
mark "all done"
