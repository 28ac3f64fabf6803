#!/usr/bin/env bash
# Detached on the device: a copy of the tree in /tmp/mb, logs in /tmp/logs. Ready after session 17
# (2026-12-06) for a lease of an H100 (about 30 device minutes of work after the installs).
# Why: MLX's mx.eval waits on a cudaEventBlockingSync event (its host thread sleeps until the GPU's
# interrupt wakes it); torch's synchronize spins. On 2026-12-06 torch's one-element call sat at 20 us
# in every process of a tight loop while MLX's sat at 28, 40 or 57 us and jumped between them inside
# a process. A sleeping waiter's wake-up depends on the CPU that takes the GPU's interrupt and the CPU
# the waiter sleeps on (an IPI between two vCPUs of a KVM guest goes through the host).
# P: which CPUs take the GPU's interrupts; tools.processes on the floor (its new column: the CPUs
#    that took them per process), unpinned and pinned (--cpu-affinity) to the interrupt's CPU, to
#    another, and to both; the floor with a SCHED_IDLE spinner on every CPU (so no vCPU halts);
#    levels_probe.py's tight loops unpinned (mlx, torch, torch with MLX loaded; about 5 minutes).
# C: tools.ceilings on every backend, with the suite's malloc setting (about 1.5 minutes).
# A, F, B: make bench's latency half (about 9 minutes), tools.fidelity on its results (one process
#    per case, never run on a GPU yet; about 8 minutes), the latency half again, all pinned to the
#    interrupt's CPU and one more (asv's --cpu-affinity; taskset for fidelity; unpinned if none was
#    found): tools.stability of A and B against today's unpinned pair (51 of 223 float32 figures
#    beyond 10 %, median 3.7 %). What is done is copied to $L every 30 s. B may not fit the lease.
set -u
src=$PWD
rm -rf /tmp/mb /tmp/logs && mkdir -p /tmp/logs && cp -a "$src" /tmp/mb && rm -rf /tmp/mb/.dev && cd /tmp/mb
L=/tmp/logs
export PYTHONUNBUFFERED=1
mark() { echo "$(date +%T) $*" >> $L/stages; }
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
case "$gpu" in *H100*) M=h100-sxm-80gb;; *H200*) M=h200-141gb;; *) mark "neither H100 nor H200 ($gpu)"; mark "all done"; exit 0;; esac
echo "$M $gpu $(git -C /tmp/mb rev-parse --short HEAD 2>/dev/null) nproc=$(nproc) $(lscpu | sed -n 's/^Model name: *//p')" > $L/machine
nvidia-smi -lms 1000 --query-gpu=timestamp,clocks.sm,temperature.gpu,power.draw,utilization.gpu,memory.used --format=csv > $L/smi.csv 2>&1 &
probe=docs/measurements/h100-2026-12-06b/levels_probe.py

mark "start P: the GPU's interrupts; tools.processes on the floor unpinned and pinned; the tight-loop probe"
irqs=$(awk -F: '/nvidia/ {gsub(/ /, "", $1); print $1}' /proc/interrupts)
irq_cpus=$(for i in $irqs; do cat /proc/irq/$i/effective_affinity_list 2>/dev/null; done | tr '\n' ',' | sed 's/,$//')
first=${irq_cpus%%[,-]*}
other=$(( (${first:-0} + $(nproc) / 2) % $(nproc) ))
floor() { echo "## Floor on $1 $2"; timeout 120 python3 -m tools.processes "Floor / dim=1" --backend $1 $2 2>&1 | tail -12; }
{ echo "## nvidia interrupt lines: $irqs; effective affinity: ${irq_cpus:-unknown}; other CPU: $other"
  grep -E "CPU0|nvidia" /proc/interrupts
  for i in $irqs; do echo "## irq $i smp_affinity_list $(cat /proc/irq/$i/smp_affinity_list 2>&1)"; done
  floor mlx_gpu "--processes 4"; floor cuda "--processes 4"
  if [ -n "$first" ]; then
    for cpus in "$first" "$other" "$first,$other"; do floor mlx_gpu "--processes 3 --cpu-affinity $cpus"; done
  fi
  # A CPU that never halts: one SCHED_IDLE spinner per CPU runs only when nothing else would (the
  # kernel's idle=poll, which this machine lacks without a cpuidle driver); a woken waiter preempts it.
  echo "## with a SCHED_IDLE spinner on every CPU"
  spinners=""
  for c in $(seq 0 $(( $(nproc) - 1 ))); do
    chrt -i 0 taskset -c $c python3 -c "while True: pass" & spinners="$spinners $!"
  done
  sleep 1; floor mlx_gpu "--processes 4"; floor cuda "--processes 4"
  kill $spinners; wait $spinners 2>/dev/null
  for mode in mlx torch torch+mlx; do
    echo "## levels_probe.py $mode, unpinned"; for p in 1 2 3; do timeout 60 python3 $probe $mode 2>&1 | tail -1; done
  done
  echo "## after"; grep -E "CPU0|nvidia" /proc/interrupts
} > $L/levels-probe.txt 2>&1
mark "end P rc=$?"
PIN=""
[ -n "$first" ] && PIN="--cpu-affinity $first,$other"

# The committed ceilings are of 2026-11-25, before the suite's malloc setting: the CPU backends' read
# low (shares over 100 % in the roofline tables).
mark "start C: tools.ceilings on every backend"
timeout 300 python3 -m tools.ceilings --machine $M > $L/ceilings.log 2>&1
mark "end C rc=$?"
cp results/$M/ceilings.txt $L/ 2>/dev/null

for run in A B; do
  rm -rf /tmp/mb-$run && cp -a /tmp/mb /tmp/mb-$run && cd /tmp/mb-$run
  keep() { rm -rf $L/results-$run.new && mkdir -p $L/results-$run.new && cp -a results/$M results/benchmarks.json $L/results-$run.new/ && rm -rf $L/results-$run && mv $L/results-$run.new $L/results-$run; }
  mark "start $run: make bench's latency half, ${PIN:-unpinned (no interrupt CPU found)}"
  start=$(date +%s)
  ( while sleep 30; do keep; done ) &
  KEEP=$!
  MLXBENCH_BACKENDS=mlx_gpu,cuda timeout 900 python3 -m tools.bench --machine $M --bench time_latency $PIN > $L/latency-$run.log 2>&1
  mark "end $run rc=$? $(( $(date +%s) - start )) s"
  kill $KEEP; keep
  if [ $run = A ]; then
    mark "start F: tools.fidelity (a process per case) on A's results, ${PIN:-unpinned}"
    timeout 720 ${PIN:+taskset -c ${PIN#--cpu-affinity }} python3 -m tools.fidelity --machine $M --output $L/fidelity.md > $L/fidelity.log 2>&1
    mark "end F rc=$?"
  fi
done
mark "all done"
