#!/usr/bin/env bash
# Detached on the device: everything in a copy of the tree (/tmp/mb), logs in /tmp/logs.
# Next after session 13 (2026-12-05): make bench's GPU half twice back to back (a GPU pass is now one
# asv run, f56e342), then the probe of tools.fidelity's instrument on three MLX cases, then torch's
# convolutions' throughput and memory with cuDNN's autotuner (cdf0d1d; the pair re-times their latency).
set -u
src=$PWD
rm -rf /tmp/mb /tmp/logs && mkdir -p /tmp/logs && cp -a "$src" /tmp/mb && cd /tmp/mb
L=/tmp/logs
export PYTHONUNBUFFERED=1
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
case "$gpu" in *H200*) M=h200-141gb;; *H100*) M=h100-sxm-80gb;; *) M=gpu-other;; esac
echo "$M $gpu $(git -C /tmp/mb rev-parse --short HEAD 2>/dev/null)" > $L/machine
nvidia-smi -lms 1000 --query-gpu=timestamp,clocks.sm,temperature.gpu,power.draw,utilization.gpu,memory.used --format=csv > $L/smi.csv 2>&1 &
SMI=$!
mark() { echo "$(date +%T) $*" >> $L/stages; }

for run in A B; do
  mark "start $run: latency float32 mlx_gpu,cuda (make bench's three passes)"
  start=$(date +%s)
  MLXBENCH_BACKENDS=mlx_gpu,cuda timeout 900 python3 -m tools.bench --machine $M --bench time_latency > $L/latency-$run.log 2>&1
  mark "end $run rc=$? $(( $(date +%s) - start )) s"
  mkdir -p $L/pair-$run && cp -a results/$M results/benchmarks.json $L/pair-$run/
done
python3 -m tools.stability $L/pair-A $L/pair-B --machine $M --backends mlx_gpu,cuda --dtypes float32 --bench 'time_latency$' > $L/stability.txt 2>&1
mark "end stability rc=$?"

mark "start P: MLX cases that tools.fidelity put above asv, per process, without and with its events"
for r in "MatMul / dim=1000x64x1024 dim=1000x1024x32" "BCE / dim=100000x32 dim=100000x32" \
         "CausalAttention / dim=8x12x512x64 dim=8x12x512x64 dim=8x12x512x64"; do
  for e in "" --with-events; do
    echo "## $r ${e:-(host clock only)}"; timeout 150 python3 -m tools.processes "$r" --backend mlx_gpu --processes 6 $e
  done
done > $L/instrument-probes.txt 2>&1
mark "end P rc=$?"
mark "start C: convolutions' throughput and memory on cuda, autotuned"
MLXBENCH_BACKENDS=cuda timeout 400 python3 -m tools.bench --machine $M --bench '^bench_convolution\..*time_throughput$' > $L/conv.log 2>&1
mark "end C throughput rc=$?"
MLXBENCH_BACKENDS=cuda timeout 200 python3 -m tools.bench --machine $M --memory --quick --bench '^bench_convolution\..*track_peak_memory$' > $L/conv-memory.log 2>&1
mark "end C memory rc=$?"
cp -a results/$M $L/results-after-C
kill $SMI
mark "all done"
