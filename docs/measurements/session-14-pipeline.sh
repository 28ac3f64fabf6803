#!/usr/bin/env bash
# Detached on the device: everything in a copy of the tree (/tmp/mb), logs in /tmp/logs.
# Ready after session 14 (2026-12-05), for a lease of 30 device minutes (about 26 of work after the
# installs). On the H100 first: the events-instrument probe of three MLX cases (tools.fidelity's
# exceptions, explained so far on the H200 only; 4.3 minutes there). Then: GELU 1x32x11008 plain and
# compiled (compiled was the slower); torch's convolutions timed again with cuDNN's autotuner (the
# committed figures predate it); make bench's CPU pass on this host (its columns date from
# 2026-11-25, before the suite's malloc setting, 25d15d8; about 12 minutes), as far as the lease
# goes: module by module, what is done is copied to $L/results every 30 s.
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

if [ $M = h100-sxm-80gb ]; then
  mark "start P: MLX cases that tools.fidelity put above asv, per process, without and with its events"
  for r in "MatMul / dim=1000x64x1024 dim=1000x1024x32" "BCE / dim=100000x32 dim=100000x32" \
           "CausalAttention / dim=8x12x512x64 dim=8x12x512x64 dim=8x12x512x64"; do
    for e in "" --with-events; do
      echo "## $r ${e:-(host clock only)}"; timeout 150 python3 -m tools.processes "$r" --backend mlx_gpu --processes 6 $e
    done
  done > $L/instrument-probes.txt 2>&1
  mark "end P rc=$?"
fi

mark "start G: GELU 1x32x11008, plain and compiled MLX: kernels (tools.profile_case) and per process"
for b in mlx_gpu_compile mlx_gpu; do
  echo "## profile $b"; timeout 120 python3 -m tools.profile_case "GELU / dim=1x32x11008" --backend $b --calls 50
  echo "## processes $b"; timeout 120 python3 -m tools.processes "GELU / dim=1x32x11008" --backend $b --processes 3
done > $L/gelu.txt 2>&1
mark "end G rc=$?"

mark "start C: torch's convolutions on cuda with cuDNN's autotuner: latency and throughput (make bench's passes), memory"
MLXBENCH_BACKENDS=cuda timeout 500 python3 -m tools.bench --machine $M --bench '^bench_convolution\..*time_(latency|throughput)$' > $L/conv.log 2>&1
mark "end C timing rc=$?"
MLXBENCH_BACKENDS=cuda timeout 200 python3 -m tools.bench --machine $M --memory --quick --bench '^bench_convolution\..*track_peak_memory$' > $L/conv-memory.log 2>&1
mark "end C memory rc=$?"
keep

mark "start F: make bench's CPU pass (MLXBENCH_BACKENDS=mlx_cpu,cpu python3 -m tools.bench --machine $M)"
start=$(date +%s)
( while sleep 30; do keep; done ) &
KEEP=$!
MLXBENCH_BACKENDS=mlx_cpu,cpu timeout 1100 python3 -m tools.bench --machine $M > $L/cpu.log 2>&1
mark "end F rc=$? $(( $(date +%s) - start )) s"
kill $KEEP; keep
mark "all done"
