#!/usr/bin/env bash
# Detached on the device: a copy of the tree in /tmp/mb, logs in /tmp/logs. Ready after session 17
# (2026-12-06) for a lease of an H100 (about 29 device minutes of work after the installs).
# Why: MLX's mx.eval waits on a cudaEventBlockingSync event (its host thread sleeps until the GPU's
# interrupt wakes it); torch's synchronize spins. On 2026-12-06 torch's one-element call sat at 20 us
# in every process of a tight loop while MLX's sat at 28, 40 or 57 us and moved between them inside
# a process. A sleeping waiter's wake-up depends on the CPU that takes the GPU's interrupt, the CPU
# the waiter sleeps on, and whether that vCPU is halted (the host must wake it; this KVM guest has no
# cpuidle driver, so an idle vCPU halts at once and --cpu-latency-us cannot stop it).
# P (about 3 minutes): which CPUs take the GPU's interrupts; tools.processes on the floor (its column
#    names the CPUs that took them per process): unpinned; pinned (--cpu-affinity) to the interrupt's
#    CPU, and to it and one more; with a SCHED_IDLE spinner on every CPU, so that no vCPU halts (a
#    woken waiter preempts it); levels_probe.py's tight loops.
# The lever: the pinned pair or the spinners, whichever gave MLX's floor processes the smaller spread
#    (slowest over fastest), if it is at least 0.1 below the unpinned spread; else none.
# A, F, B: make bench's latency half (about 9 minutes), tools.fidelity on its results (one process
#    per case, never run on a GPU yet; about 8 minutes), the latency half again, all with the lever:
#    tools.stability of A and B against the pair of 2026-12-06 without one (51 of 223 float32 figures
#    beyond 10 %, median 3.7 %). What is done is copied to $L every 30 s.
# C: tools.ceilings (the committed ones predate the malloc setting), if the lease lasts.
source docs/measurements/pipeline-start.sh
probe=docs/measurements/h100-2026-12-06b/levels_probe.py
P=$L/levels-probe.txt

irqs=$(awk -F: '/nvidia/ {gsub(/ /, "", $1); print $1}' /proc/interrupts)
irq_cpus=$(for i in $irqs; do cat /proc/irq/$i/effective_affinity_list 2>/dev/null; done | tr '\n' ',' | sed 's/,$//')
first=${irq_cpus%%[,-]*}
other=$(( (${first:-0} + $(nproc) / 2) % $(nproc) ))
spinners=""
spin() {  # one SCHED_IDLE spinner per CPU: no vCPU halts while they run
  for c in $(seq 0 $(( $(nproc) - 1 ))); do chrt -i 0 taskset -c $c python3 -c "while True: pass" & spinners="$spinners $!"; done
  sleep 1
}
unspin() { [ -n "$spinners" ] && kill $spinners && wait $spinners 2>/dev/null; spinners=""; }
floor() {  # section name, backend, tools.processes options
  echo "## $1"; timeout 100 python3 -m tools.processes "Floor / dim=1" --backend $2 --processes 3 ${3:-} 2>&1 | tail -9
}
spread() { awk -v s="## $1" '$0 == s {f=1} f && /slowest process over fastest/ {sub(/.*fastest: /, ""); sub(/;.*/, ""); print; exit}' $P; }

mark "start P: the GPU's interrupts; the floor unpinned, pinned and with spinners; the tight-loop probe"
{ echo "## nvidia interrupt lines: $irqs; effective affinity: ${irq_cpus:-unknown}; other CPU: $other"
  grep -E "CPU0|nvidia" /proc/interrupts
  for i in $irqs; do echo "## irq $i smp_affinity_list $(cat /proc/irq/$i/smp_affinity_list 2>&1)"; done
  floor "mlx_gpu unpinned" mlx_gpu; floor "cuda unpinned" cuda
  if [ -n "$first" ]; then
    floor "mlx_gpu on $first" mlx_gpu "--cpu-affinity $first"
    floor "mlx_gpu on $first,$other" mlx_gpu "--cpu-affinity $first,$other"
  fi
  if command -v chrt >/dev/null; then
    spin; floor "mlx_gpu with spinners" mlx_gpu; floor "cuda with spinners" cuda; unspin
  else
    echo "## no chrt here (util-linux): no spinners"
  fi
  for mode in mlx torch+mlx; do
    echo "## levels_probe.py $mode"; for p in 1 2; do timeout 60 python3 $probe $mode 2>&1 | tail -1; done
  done
  echo "## after"; grep -E "CPU0|nvidia" /proc/interrupts
} > $P 2>&1
mark "end P rc=$?"

lever="" PIN=""
base=$(spread "mlx_gpu unpinned"); pinned=$( [ -n "$first" ] && spread "mlx_gpu on $first,$other"); spun=$(spread "mlx_gpu with spinners")
choice=$(python3 -c "
import sys
base, pinned, spun = (float(v) if v else None for v in sys.argv[1:4])
options = [(v, name) for v, name in ((pinned, 'pin'), (spun, 'spin')) if v is not None]
best = min(options, default=None)
print(best[1] if base and best and best[0] <= base - 0.1 else '')" "$base" "$pinned" "$spun")
case "$choice" in
  pin) lever="pinned to CPUs $first,$other (asv's --cpu-affinity)"; PIN="--cpu-affinity $first,$other";;
  spin) lever="a SCHED_IDLE spinner on every CPU";;
esac
mark "spreads of MLX's floor: unpinned ${base:-?}, pinned ${pinned:-?}, spinners ${spun:-?}; lever: ${lever:-none}"

for run in A B; do
  [ "$choice" = spin ] && spin
  latency_half $run 900 $PIN
  if [ $run = A ]; then
    mark "start F: tools.fidelity (a process per case) on A's results, lever: ${lever:-none}"
    timeout 720 ${PIN:+taskset -c $first,$other} python3 -m tools.fidelity --machine $M --output $L/fidelity.md > $L/fidelity.log 2>&1
    mark "end F rc=$?"
  fi
  unspin
done
cd /tmp/mb
mark "start C: tools.ceilings on every backend"
timeout 300 python3 -m tools.ceilings --machine $M > $L/ceilings.log 2>&1
mark "end C rc=$?"
cp results/$M/ceilings.txt $L/ 2>/dev/null
mark "all done"
