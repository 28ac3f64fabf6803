#!/usr/bin/env bash
# Detached on the device: a copy of the tree in /tmp/mb, logs in /tmp/logs. Ready after session 15
# (2026-12-06) for a full lease of an H100 (about 26 device minutes of work after the installs): what
# the H200 gave on 2026-12-06 (docs/measurements/h200-2026-12-06/), on the H100, whose committed
# tables these are. C: torch's convolutions with cuDNN's autotuner (latency, throughput, peak memory;
# 3.6 minutes on the H200). P: the events-instrument probe of three MLX cases (4.3 minutes on the
# H200). G: GELU 1x32x11008 plain and compiled, kernels and processes (1.5 minutes). F: make bench's
# CPU pass with the malloc setting (11 minutes on the H200's host), module by module, what is done
# copied to $L/results every 30 s. On any other GPU it stops: those were run on the H200.
set -u
src=$PWD
rm -rf /tmp/mb /tmp/logs && mkdir -p /tmp/logs && cp -a "$src" /tmp/mb && cd /tmp/mb
L=/tmp/logs
export PYTHONUNBUFFERED=1
mark() { echo "$(date +%T) $*" >> $L/stages; }
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
case "$gpu" in *H100*) M=h100-sxm-80gb;; *) mark "not an H100 ($gpu): nothing to run"; mark "all done"; exit 0;; esac
echo "$M $gpu $(git -C /tmp/mb rev-parse --short HEAD 2>/dev/null) nproc=$(nproc) $(lscpu | sed -n 's/^Model name: *//p')" > $L/machine
nvidia-smi -lms 1000 --query-gpu=timestamp,clocks.sm,temperature.gpu,power.draw,utilization.gpu,memory.used --format=csv > $L/smi.csv 2>&1 &
keep() { rm -rf $L/results.new && mkdir -p $L/results.new && cp -a results/$M results/benchmarks.json $L/results.new/ && rm -rf $L/results && mv $L/results.new $L/results; }

# asv matches a case as name(param, ...): a pattern ends in \( after the method name, never in $.
mark "start C: torch's convolutions on cuda with cuDNN's autotuner"
MLXBENCH_BACKENDS=cuda timeout 300 python3 -m tools.bench --machine $M --bench 'bench_convolution\..*time_(latency|throughput)\(' > $L/conv.log 2>&1
mark "end C timing rc=$?"
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

mark "start G: GELU 1x32x11008, plain and compiled MLX: kernels (tools.profile_case) and per process"
for b in mlx_gpu_compile mlx_gpu; do
  echo "## profile $b"; timeout 120 python3 -m tools.profile_case "GELU / dim=1x32x11008" --backend $b --calls 50
  echo "## processes $b"; timeout 120 python3 -m tools.processes "GELU / dim=1x32x11008" --backend $b --processes 3
done > $L/gelu.txt 2>&1
mark "end G rc=$?"

mark "start F: make bench's CPU pass (MLXBENCH_BACKENDS=mlx_cpu,cpu python3 -m tools.bench --machine $M)"
start=$(date +%s)
( while sleep 30; do keep; done ) &
KEEP=$!
MLXBENCH_BACKENDS=mlx_cpu,cpu timeout 1100 python3 -m tools.bench --machine $M > $L/cpu.log 2>&1
mark "end F rc=$? $(( $(date +%s) - start )) s"
kill $KEEP; keep
mark "all done"
