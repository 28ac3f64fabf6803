#!/usr/bin/env bash
# Detached on the device, for a short lease (about 3 device minutes after the installs). Why: the
# host check of session-28-quiet-pair.sh read x1.353 and x1.355 (cuda) on the last two hosts while
# the pairs' runs right after it read x1.10-1.12; each check was the first GPU work after the machine
# started. So the check three times in a row, each from no results: if the later ones read lower,
# what the check sees is the machine's first minute, and it should run after a throwaway pass.
# Stage it with `bash docs/measurements/stage-lease.sh docs/measurements/session-31-check-thrice.sh`.
source docs/measurements/pipeline-start.sh

rm -rf /tmp/mb/results/$M
for run in F1 F2 F3; do
  bench_run $run 150 mlx_gpu,cuda latency --bench 'bench_floor|ReLU\.time_latency' --avoid-gpu-interrupts
  mark "$run: $(grep -E '^note: .*differed' $L/latency-$run.log)"
done
mark "all done"
