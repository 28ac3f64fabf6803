#!/usr/bin/env bash
# Detached on the device: a copy of the tree in /tmp/mb, logs in /tmp/logs. Ready after session 18
# (2026-12-06) for a lease of an H100 (about 24 device minutes of work after the installs).
# Why: on 2026-12-06 tools.fidelity ran with a process per case on a GPU for the first time. torch's
# figures held (asv/events median 0.997, none off beyond its processes' levels); MLX's sat below the
# events (median 0.973 plain, 0.929 compiled; 26 off beyond the levels), and MLX's tf32 Linear
# `100x1024x256` has read 0.455-0.465 ms by events on three leases while asv's figure went 0.34-0.52.
# MLX on CUDA returns a call's buffers to its cache on a worker thread (a race with the next call).
# R (about 3 minutes): release_probe.py: the cases furthest off, in fresh processes, timed as asv
#    times them, with the collector on, with mx.synchronize() between calls, in tools.fidelity's loop
#    (torch's events) and with the CUDA driver's own events (no torch in the process); the share of
#    calls that found the last output still held, and their times.
# A (about 10 minutes): make bench's latency half with settle.patch applied (mx.synchronize() at the
#    end of every MLX setup, outside the timing), to set against A of 2026-12-06 (h100-2026-12-06c),
#    which ran without it. What is done is copied to $L every 30 s.
# F (about 10 minutes): tools.fidelity on A's results, with the patch, timed by the CUDA driver's own
#    events (--events driver: torch's CUDA never started in MLX's processes; never run on a GPU yet,
#    so they are tried on one MLX matmul first, and F takes torch's events if that fails).
source docs/measurements/pipeline-start.sh
D=docs/measurements/h100-2026-12-06c

mark "start R: release_probe.py"
timeout 300 python3 $D/release_probe.py --processes 2 > $L/release-probe.txt 2>&1
mark "end R rc=$?"

git apply $D/settle.patch && mark "settle.patch applied" || { mark "settle.patch did not apply"; mark "all done"; exit 0; }
mark "start A: make bench's latency half, settled"
start=$(date +%s)
keeping A
MLXBENCH_BACKENDS=mlx_gpu,cuda timeout 800 python3 -m tools.bench --machine $M --bench time_latency > $L/latency-A.log 2>&1
mark "end A rc=$? $(( $(date +%s) - start )) s"
kill $KEEP; keep A

# The driver's events on one MLX matmul first: if they fail, F takes torch's.
events=driver
python3 -c "
import mlx.core as mx
from tools import cuda_events
x = mx.ones((1024, 1024)); mx.eval(x)
start, end, stream = cuda_events.Event(), cuda_events.Event(), cuda_events.Stream()
start.record(stream); mx.eval(x @ x); end.record(stream); end.synchronize()
print('driver events around one MLX matmul:', start.elapsed_time(end), 'ms')" > $L/driver-events-check.txt 2>&1 || events=torch
mark "driver events check: $(tail -1 $L/driver-events-check.txt); F takes $events events"
mark "start F: tools.fidelity --events $events on A's results, settled"
timeout 720 python3 -m tools.fidelity --machine $M --events $events --output $L/fidelity.md > $L/fidelity.log 2>&1
mark "end F rc=$?"
mark "all done"
