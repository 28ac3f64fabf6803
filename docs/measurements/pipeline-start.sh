# The start every lease pipeline shares, sourced from the tree's root (`source
# docs/measurements/pipeline-start.sh`): a copy of the tree in /tmp/mb (the pipeline goes on there),
# logs in $L=/tmp/logs, `mark` for the stage times, `bench_run`, `latency_half`, `stability_pair`
# and `preload_probe` (below),
# `keeping NAME` (copies results/ of the current folder to $L/results-NAME every 30 s in the
# background, whole or not at all; `kill $KEEP; keep NAME` for the last copy), $M the results'
# machine name (a GPU neither H100 nor H200 ends the pipeline), the host in $L/machine and the GPU's
# clocks each second in $L/smi.csv, the CPUs' in $L/vmstat.txt.
set -u
src=$PWD
rm -rf /tmp/mb /tmp/logs && mkdir -p /tmp/logs && cp -a "$src" /tmp/mb && rm -rf /tmp/mb/.dev && cd /tmp/mb
L=/tmp/logs
export PYTHONUNBUFFERED=1
mark() { echo "$(date +%T) $*" >> $L/stages; }
keep() { rm -rf $L/results-$1.new && mkdir -p $L/results-$1.new && cp -a results/$M results/benchmarks.json $L/results-$1.new/ && rm -rf $L/results-$1 && mv $L/results-$1.new $L/results-$1; }
keeping() { ( while sleep 30; do keep $1; done ) & KEEP=$!; }
# `make bench` on BACKENDS in a fresh copy of the tree, /tmp/mb-NAME (the shell stays there):
# `bench_run NAME TIMEOUT_S BACKENDS LOG_PREFIX [tools.bench options]`; log $L/LOG_PREFIX-NAME.log,
# marks and results as NAME. `latency_half NAME TIMEOUT_S [options]`: its float32 latency half on
# mlx_gpu and cuda (log latency-NAME.log).
bench_run() {
  local run=$1 limit=$2 backends=$3 prefix=$4; shift 4
  rm -rf /tmp/mb-$run && cp -a /tmp/mb /tmp/mb-$run && cd /tmp/mb-$run
  mark "start $run: make bench on $backends $*"
  local start=$(date +%s)
  keeping $run
  MLXBENCH_BACKENDS=$backends timeout $limit python3 -m tools.bench --machine $M "$@" > $L/$prefix-$run.log 2>&1
  mark "end $run rc=$? $(( $(date +%s) - start )) s"
  kill $KEEP; keep $run
}
latency_half() {
  local run=$1 limit=$2; shift 2
  bench_run $run $limit mlx_gpu,cuda latency "$@" --bench time_latency
}
# `stability_pair A B`: tools.stability between runs A and B's float32 latency figures on mlx_gpu and
# cuda ($L/stability-pair.txt). `preload_probe`: docs/measurements/mlx-preload-probe.py, each mode
# ($L/mlx-preload.txt). Both from /tmp/mb.
stability_pair() {
  cd /tmp/mb && python3 -m tools.stability $L/results-$1 $L/results-$2 --machine $M --backends mlx_gpu,cuda \
    --dtypes float32 --bench 'time_latency$' ${GPU_ROUNDS:+--gpu-rounds $GPU_ROUNDS} > $L/stability-pair.txt 2>&1
  mark "stability $1 against $2: $(grep -o 'median change [0-9.]*%.*beyond x1.1: [0-9]*' $L/stability-pair.txt | head -1);" \
    "$(grep -o "^asv's table marks [0-9]* changed" $L/stability-pair.txt)"
}
preload_probe() {
  cd /tmp/mb && mark "start M: MLX's libraries loaded before the fork"
  for mode in none libmlx core none; do timeout 120 python3 docs/measurements/mlx-preload-probe.py $mode; done \
    > $L/mlx-preload.txt 2>&1
  mark "end M: $(grep -c 'exit code 0' $L/mlx-preload.txt) processes"
}
# `compiled_probe`: the strict MatMul family on mlx_gpu and mlx_gpu_compile from no results (run C),
# then tools.fidelity on both right after ($L/fidelity-C.md): plain and compiled MLX on one host.
compiled_probe() {
  rm -rf /tmp/mb/results/$M
  MLXBENCH_PRECISIONS=strict bench_run C 150 mlx_gpu,mlx_gpu_compile latency --bench 'MatMul.time_latency\('
  mark "start fidelity of C"
  MLXBENCH_PRECISIONS=strict MLXBENCH_BACKENDS=mlx_gpu,mlx_gpu_compile timeout 120 python3 -m tools.fidelity \
    --machine $M --events driver --output $L/fidelity-C.md > $L/fidelity-C.log 2>&1
  mark "end fidelity rc=$?: $(grep -o '^[0-9]* of [0-9]* cases[^;]*' $L/fidelity-C.md | head -1)"
}
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
case "$gpu" in *H100*) M=h100-sxm-80gb;; *H200*) M=h200-141gb;; *) mark "neither H100 nor H200 ($gpu)"; mark "all done"; exit 0;; esac
echo "$M $gpu $(git -C /tmp/mb rev-parse --short HEAD 2>/dev/null) nproc=$(nproc) $(lscpu | sed -n 's/^Model name: *//p')" > $L/machine
nvidia-smi -lms 1000 --query-gpu=timestamp,clocks.sm,temperature.gpu,power.draw,utilization.gpu,memory.used --format=csv > $L/smi.csv 2>&1 &
# the CPUs each second, time stamped: its `st` column is the time the host's hypervisor gave this VM's
# CPUs to others (2026-12-07: a host whose torch processes differed x1.37 under 0.2 ms, against x1.02)
vmstat -n -t 1 > $L/vmstat.txt 2>&1 &
