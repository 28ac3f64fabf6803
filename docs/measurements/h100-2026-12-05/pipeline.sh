#!/usr/bin/env bash
# Detached on the device: everything in a copy of the tree (/tmp/mb), logs in /tmp/logs.
set -u
src=$PWD
rm -rf /tmp/mb /tmp/logs && mkdir -p /tmp/logs && cp -a "$src" /tmp/mb && cd /tmp/mb
L=/tmp/logs
export PYTHONUNBUFFERED=1
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
case "$gpu" in *H200*) M=h200-141gb;; *H100*) M=h100-sxm-80gb;; *) M=gpu-other;; esac
echo "$M $gpu" > $L/machine
nvidia-smi -lms 1000 --query-gpu=timestamp,clocks.sm,temperature.gpu,power.draw,utilization.gpu,memory.used --format=csv > $L/smi.csv 2>&1 &
SMI=$!
mark() { echo "$(date +%T) $*" >> $L/stages; }

mark "start extras: compiled MLX in three dtypes, mlx_gpu and cuda in half dtypes"
MLXBENCH_BACKENDS=mlx_gpu_compile MLXBENCH_DTYPES=float32,float16,bfloat16 timeout 420 python3 -m tools.bench --machine $M --quick --bench time_latency > $L/extras-compile.log 2>&1
mark "end extras compile rc=$?"
MLXBENCH_BACKENDS=mlx_gpu,cuda MLXBENCH_DTYPES=float16,bfloat16 timeout 420 python3 -m tools.bench --machine $M --quick --bench time_latency > $L/extras-half.log 2>&1
mark "end extras half rc=$?"

mark "start memory float32 + Sum tests"
MLXBENCH_BACKENDS=mlx_gpu,mlx_gpu_compile,cuda MLXBENCH_DTYPES=float32,float16,bfloat16 timeout 300 python3 -m pytest -q -rfE -p no:cacheprovider -n 4 tests/test_ops.py -k "Sum and (float16 or bfloat16)" > $L/sum-tests.log 2>&1 &
T=$!
MLXBENCH_BACKENDS=mlx_gpu,mlx_gpu_compile,cuda MLXBENCH_DTYPES=float32 timeout 480 python3 -m tools.bench --machine $M --memory --quick --bench track_peak_memory > $L/memory.log 2>&1
mark "end memory rc=$?"
wait $T; mark "end Sum tests rc=$?"

mark "start probes (machine $M)"
for v in default hashseed0 noaslr both; do
  case $v in
    default) pre=();;
    hashseed0) pre=(env PYTHONHASHSEED=0);;
    noaslr) pre=(setarch x86_64 -R);;
    both) pre=(setarch x86_64 -R env PYTHONHASHSEED=0);;
  esac
  rows=("GELU / dim=1x32x11008"); [ $v = default ] || [ $v = both ] && rows+=("Floor / dim=1")
  for row in "${rows[@]}"; do
    echo "== $row cuda $v" >> $L/probes.txt
    timeout 90 "${pre[@]}" python3 -m tools.processes "$row" --backend cuda --processes 6 >> $L/probes.txt 2>&1
  done
done
echo "== Gather mlx_gpu, new warm-up" >> $L/probes.txt
timeout 60 python3 -m tools.processes "Gather / dim=32000x4096 dim=8192 axi=0" --backend mlx_gpu --processes 3 --seconds 1 >> $L/probes.txt 2>&1
echo "== Linear cuda tf32, new warm-up" >> $L/probes.txt
timeout 60 python3 -m tools.processes "Linear / dim=100x1024x256 dim=256x1024 dim=1024" --backend cuda --precision tf32 --processes 3 --seconds 1 >> $L/probes.txt 2>&1
for b in 0 1; do for p in strict tf32; do timeout 120 python3 .dev/b/probe_conv.py $b $p >> $L/probes.txt 2>&1; done; done
mark "end probes"

mark "start latency"
start=$(date +%s)
MLXBENCH_BACKENDS=mlx_gpu,cuda timeout 900 python3 -m tools.bench --machine $M --bench time_latency > $L/latency.log 2>&1
mark "end latency rc=$? $(( $(date +%s) - start )) s"
python3 -m tools.fidelity --machine $M --output $L/fidelity.md > $L/fidelity.log 2>&1
mark "end fidelity rc=$?"
kill $SMI
mark "all done"
