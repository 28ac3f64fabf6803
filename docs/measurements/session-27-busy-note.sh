#!/usr/bin/env bash
# Detached or not, for the last few device minutes of a lease (about 1 minute after the installs):
# the floor and ReLU on mlx_gpu and cuda through `make bench` from no results, to see on a GPU the
# note its GPU passes now end with (the median spread between a figure's processes, and whether the
# machine was busy), with vmstat's `st` beside it.
source docs/measurements/pipeline-start.sh

rm -rf /tmp/mb/results/$M
bench_run F 150 mlx_gpu,cuda latency --bench 'bench_floor|ReLU\.time_latency'
mark "F: $(grep -E '^(note|time): ' $L/latency-F.log | tr '\n' ';')"
mark "all done"
