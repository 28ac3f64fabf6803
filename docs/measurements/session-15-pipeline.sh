#!/usr/bin/env bash
# Detached on the device (session 15, 2026-12-06): a copy of the tree in /tmp/mb, logs in /tmp/logs.
# For the 6 device minutes left after an H200 lease: on an H100, torch's convolutions timed again
# with cuDNN's autotuner (latency, then throughput, then peak memory; 3.6 minutes on the H200), then the
# events-instrument probe of three MLX cases, as far as the lease goes.
set -u
src=$PWD
rm -rf /tmp/mb /tmp/logs && mkdir -p /tmp/logs && cp -a "$src" /tmp/mb && cd /tmp/mb
L=/tmp/logs
export PYTHONUNBUFFERED=1
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
case "$gpu" in *H200*) M=h200-141gb;; *H100*) M=h100-sxm-80gb;; *) M=gpu-other;; esac
echo "$M $gpu $(git -C /tmp/mb rev-parse --short HEAD 2>/dev/null) nproc=$(nproc) $(lscpu | sed -n 's/^Model name: *//p')" > $L/machine
nvidia-smi -lms 1000 --query-gpu=timestamp,clocks.sm,temperature.gpu,power.draw,utilization.gpu,memory.used --format=csv > $L/smi.csv 2>&1 &
mark() { echo "$(date +%T) $*" >> $L/stages; }
keep() { rm -rf $L/results.new && mkdir -p $L/results.new && cp -a results/$M results/benchmarks.json $L/results.new/ && rm -rf $L/results && mv $L/results.new $L/results; }

mark "start C: torch's convolutions on cuda with cuDNN's autotuner"
MLXBENCH_BACKENDS=cuda timeout 200 python3 -m tools.bench --machine $M --bench 'bench_convolution\..*time_latency\(' > $L/conv.log 2>&1
mark "end C latency rc=$?"
keep
MLXBENCH_BACKENDS=cuda timeout 200 python3 -m tools.bench --machine $M --bench 'bench_convolution\..*time_throughput\(' > $L/conv-throughput.log 2>&1
mark "end C throughput rc=$?"
keep
MLXBENCH_BACKENDS=cuda timeout 120 python3 -m tools.bench --machine $M --memory --quick --bench 'bench_convolution\..*track_peak_memory\(' > $L/conv-memory.log 2>&1
mark "end C memory rc=$?"
keep

mark "start P: MLX cases that tools.fidelity put above asv, per process, without and with its events"
for r in "MatMul / dim=1000x64x1024 dim=1000x1024x32" "BCE / dim=100000x32 dim=100000x32" \
         "CausalAttention / dim=8x12x512x64 dim=8x12x512x64 dim=8x12x512x64"; do
  for e in "" --with-events; do
    echo "## $r ${e:-(host clock only)}"; timeout 150 python3 -m tools.processes "$r" --backend mlx_gpu --processes 6 $e
  done
done > $L/instrument-probes.txt 2>&1
mark "end P rc=$?"
mark "all done"
