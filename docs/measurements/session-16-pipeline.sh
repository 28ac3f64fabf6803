#!/usr/bin/env bash
# Detached on the device: a copy of the tree in /tmp/mb, logs in /tmp/logs. Ready after session 16
# (2026-12-06) for a lease of an H100 (about 22 device minutes of work after the installs).
# L: is a GPU process's level the depth its CPU sleeps to while the host waits (MLX's blocking-sync
#    wait)? The CPU's idle states, then tools.processes on GELU 1x32x11008 (compiled and plain MLX)
#    and the floor (MLX, torch), each without and with --cpu-latency-us 0 (about 4 minutes).
# A, B: make bench's float32 latency half twice back to back with the limit held in its GPU passes
#    (tools.bench --cpu-latency-us 0), for tools.stability against the pairs without it (H200
#    2026-12-05: 56 of 138 figures under 0.2 ms beyond 10 %). What is done is copied to $L every 30 s.
# F: tools.fidelity on B's results, one process per case now (about 8 minutes; past a 30-minute lease).
# Not here: make bench's whole GPU half (throughput, compiled MLX) for the full run's time.
source docs/measurements/pipeline-start.sh  # the same start as it ran then, since kept in one file

mark "start L: CPU idle states, then tools.processes without and with --cpu-latency-us 0"
{ echo "## cpuidle (cpu0): name, exit latency us, usage, time us, disabled"
  for s in /sys/devices/system/cpu/cpu0/cpuidle/state*; do echo "$(cat $s/name) $(cat $s/latency) $(cat $s/usage) $(cat $s/time) $(cat $s/disable)"; done
  echo "## driver: $(cat /sys/devices/system/cpu/cpuidle/current_driver 2>&1) governor: $(cat /sys/devices/system/cpu/cpuidle/current_governor_ro 2>&1)"
  echo "## cpufreq: $(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>&1)"
  for f in /sys/module/haltpoll/parameters/*; do echo "## haltpoll $(basename $f) $(cat $f)"; done 2>/dev/null
  ls -la /dev/cpu_dma_latency 2>&1
  for r in "GELU / dim=1x32x11008|mlx_gpu_compile" "GELU / dim=1x32x11008|mlx_gpu" "Floor / dim=1|mlx_gpu" "Floor / dim=1|cuda"; do
    row=${r%|*}; b=${r#*|}
    for held in "" "--cpu-latency-us 0"; do
      echo "## $row $b ${held:-(not held)}"; timeout 150 python3 -m tools.processes "$row" --backend $b --processes 6 $held
    done
  done
  echo "## cpuidle (cpu0) after: name, usage, time us"
  for s in /sys/devices/system/cpu/cpu0/cpuidle/state*; do echo "$(cat $s/name) $(cat $s/usage) $(cat $s/time)"; done
} > $L/cpu-latency-probes.txt 2>&1
mark "end L rc=$?"

# Without the request file (a container may lack it) the pair runs unheld: still the H100's first pair
# with a GPU pass one asv run.
HOLD="--cpu-latency-us 0"
python3 -c "import os; os.close(os.open('/dev/cpu_dma_latency', os.O_WRONLY))" 2>/dev/null || HOLD=""
mark "the pair and fidelity run with: ${HOLD:-no limit held (no /dev/cpu_dma_latency to write)}"
for run in A B; do
  latency_half $run 900 $HOLD
done
mark "start F: tools.fidelity (a process per case) on B's results, if the lease lasts"
cd /tmp/mb-B && timeout 900 python3 -m tools.fidelity --machine $M $HOLD --output $L/fidelity.md > $L/fidelity.log 2>&1
mark "end F rc=$?"
mark "all done"
