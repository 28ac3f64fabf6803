#!/usr/bin/env bash
# Detached on the device: a copy of the tree in /tmp/mb, logs in /tmp/logs. Ready after session 19
# (2026-12-06) for a lease of an H100 (about 24 device minutes of work after the installs).
# Why: on 2026-12-06 (h100-2026-12-06d) tools.fidelity's exceptions came out as many as three
# processes a side give by chance, and the release probe found a process's level moving with its host
# thread's speed. The lent H100 is a KVM guest without a cpuidle driver: an idle vCPU halts, and
# waking MLX's sleeping waiter there costs a trip through the host. The kernel's guest halt-polling
# driver (cpuidle-haltpoll) polls before halting; session 16 found its governor's parameters present.
# P (about 3 minutes): tools.processes (now with each process's setup time, host work alone) on the
#    floor (mlx_gpu, cuda) and MLX's tf32 Linear 100x1024x256, five processes each; then the same
#    after `modprobe cpuidle-haltpoll force=1` if the module loads. haltpoll stays for A and B if its
#    median spread (slowest process over fastest) is below 0.9 of the one without; else it is unloaded.
# A, B: make bench's float32 latency half twice back to back, each in a fresh copy of the tree, for
#    tools.stability (the last pair, 2026-12-06 without haltpoll: median change 3.7 %, 51 of 223
#    beyond 10 %). What is done is copied to $L every 30 s.
source docs/measurements/pipeline-start.sh

probes() {  # $1: the name of the setting they run under
  for r in "Floor / dim=1|mlx_gpu|strict" "Floor / dim=1|cuda|strict" \
           "Linear / dim=100x1024x256 dim=256x1024 dim=1024|mlx_gpu|tf32"; do
    IFS='|' read -r row backend precision <<< "$r"
    echo "## $1: $row $backend $precision"
    timeout 120 python3 -m tools.processes "$row" --backend $backend --precision $precision --processes 5
  done
}
spreads() { grep -o 'slowest process over fastest: [0-9.]*' "$1" | awk '{print $NF}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

mark "start P: tools.processes without haltpoll"
{ echo "## kernel $(uname -r); cpuidle driver: $(cat /sys/devices/system/cpu/cpuidle/current_driver 2>&1)"
  lscpu | grep -E '^(Thread|Core|Socket|NUMA node\(s\)|Hypervisor)' ; grep nvidia /proc/interrupts | head -3
  probes "without haltpoll"; } > $L/probes-without.txt 2>&1
mark "end P without rc=$?; median spread $(spreads $L/probes-without.txt)"

modprobe cpuidle-haltpoll force=1 > $L/haltpoll-load.txt 2>&1
loaded=$?
driver=$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>&1)
mark "modprobe cpuidle-haltpoll force=1: rc=$loaded, cpuidle driver now $driver ($(tr '\n' ' ' < $L/haltpoll-load.txt))"
SETTING="without haltpoll"
if [ "$driver" = haltpoll ]; then
  { for f in /sys/module/haltpoll/parameters/*; do echo "## $(basename $f) $(cat $f)"; done; probes "with haltpoll"; } > $L/probes-with.txt 2>&1
  without=$(spreads $L/probes-without.txt); with=$(spreads $L/probes-with.txt)
  mark "end P with: median spread $with (without: $without)"
  if awk -v w="$with" -v o="$without" 'BEGIN {w += 0; o += 0; exit !(w > 0 && o > 0 && w < 0.9 * o)}'; then
    SETTING="with haltpoll"
  else
    modprobe -r cpuidle-haltpoll >> $L/haltpoll-load.txt 2>&1
    driver=$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>&1)
    [ "$driver" = haltpoll ] && SETTING="with haltpoll (it would not unload)"
  fi
fi
mark "A and B run $SETTING; cpuidle driver: $(cat /sys/devices/system/cpu/cpuidle/current_driver 2>&1)"

latency_half A 800
latency_half B 800
cd /tmp/mb && python3 -m tools.stability $L/results-A $L/results-B --machine $M --backends mlx_gpu,cuda \
  --dtypes float32 --bench 'time_latency$' > $L/stability-pair.txt 2>&1
mark "stability: $(grep -o 'median change [0-9.]*%.*beyond x1.1: [0-9]*' $L/stability-pair.txt | head -1)"
mark "all done"
