#!/usr/bin/env bash
# Detached on the device: a copy of the tree in /tmp/mb, logs in /tmp/logs. Ready after session 20
# (2026-12-06) for a lease of an H100 (about 22 device minutes after the installs, by the float32
# latency half's 441 s: three times its figures).
# Why: no lease has timed `make bench`'s whole GPU half with this harness (throughput and compiled
# MLX included), so the full run's time on the H100 is an estimate (issue 5 asks for it recorded),
# and the committed throughput (2026-11-25) and compiled-MLX (2026-12-05) figures come from older
# harnesses. G: `make bench` on mlx_gpu, cuda and mlx_gpu_compile, every figure `make bench` times
# there (its CPU pass took 519 s on the first H100 of 2026-12-06: the two add up to the full run).
# What is done is copied to $L every 30 s: a pass cut short by the lease still leaves the ones before.
source docs/measurements/pipeline-start.sh

bench_run G 1500 mlx_gpu,cuda,mlx_gpu_compile gpu-half
mark "passes: $(grep '^time:' $L/gpu-half-G.log | tr '\n' ';')"
mark "all done"
