#!/usr/bin/env bash
# Detached on the device: a copy of the tree in /tmp/mb, logs in /tmp/logs. Ready after session 20
# (2026-12-06) for a lease of an H100 (about 22 device minutes of work after the installs).
# Why: on 2026-12-06 (h100-2026-12-06e) four of five MLX floor processes sat on CPU 14, the one CPU
# that took the GPU's interrupts, at 51-54 us; the fifth, elsewhere, at 25.6. Pinned there (06c) the
# floor was three times slower. MLX waits for the GPU asleep and is woken through that interrupt.
# `--avoid-gpu-interrupts` (tools/gpu_interrupts.py) keeps the timed processes off those CPUs.
# P (about 4 minutes): where the interrupts go; tools.processes on MLX's floor unpinned and avoiding
#    them, alternated twice, GELU 1x32x11008 on mlx_gpu (the last pair's widest move) both ways, and
#    torch's floor avoiding them. A and B avoid them unless P's avoiding floor processes are slower
#    (median of their medians above 1.1 x the unpinned ones').
# A, B: make bench's float32 latency half twice back to back, each in a fresh copy of the tree, and
#    tools.stability between them (the last pair, unpinned, on a quiet host: median change 0.8 %,
#    21 of 223 beyond 10 %, 18 of them mlx_gpu's under 0.2 ms; its processes x1.113 apart there).
source docs/measurements/pipeline-start.sh
source docs/measurements/interrupts-and-pair.sh
mark "all done"
