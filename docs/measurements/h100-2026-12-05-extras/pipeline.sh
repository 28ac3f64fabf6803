#!/usr/bin/env bash
# Detached on the device: everything in a copy of the tree (/tmp/mb), logs in /tmp/logs.
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

mark "start A: compiled MLX in three dtypes, one asv run (--gpu-rounds 1)"
MLXBENCH_BACKENDS=mlx_gpu_compile MLXBENCH_DTYPES=float32,float16,bfloat16 timeout 660 python3 -m tools.bench --machine $M --gpu-rounds 1 --bench time_latency > $L/extras-compile.log 2>&1
mark "end A rc=$?"
cp -a results/$M $L/results-after-A
mark "start B: mlx_gpu and cuda in half dtypes, one asv run"
MLXBENCH_BACKENDS=mlx_gpu,cuda MLXBENCH_DTYPES=float16,bfloat16 timeout 660 python3 -m tools.bench --machine $M --gpu-rounds 1 --bench time_latency > $L/extras-half.log 2>&1
mark "end B rc=$?"
cp -a results/$M $L/results-after-B

mark "start C: memory of the last four modules"
MLXBENCH_BACKENDS=mlx_gpu,mlx_gpu_compile,cuda MLXBENCH_DTYPES=float32 timeout 400 python3 -m tools.bench --machine $M --memory --quick --bench "^bench_(losses|manipulation|normalization|reductions)\..*track_peak_memory" > $L/memory.log 2>&1
mark "end C rc=$?"
cp -a results/$M $L/results-after-C

mark "start D: latency float32 mlx_gpu,cuda (three runs)"
start=$(date +%s)
MLXBENCH_BACKENDS=mlx_gpu,cuda timeout 1000 python3 -m tools.bench --machine $M --bench time_latency > $L/latency.log 2>&1
mark "end D latency rc=$? $(( $(date +%s) - start )) s"
python3 -m tools.fidelity --machine $M --output $L/fidelity.md > $L/fidelity.log 2>&1
mark "end D fidelity rc=$?"
for b in 0 1; do for p in strict tf32; do timeout 120 python3 .dev/b/probe_conv.py $b $p >> $L/probes.txt 2>&1; done; done
mark "end probes"
kill $SMI
mark "all done"
