source docs/measurements/pipeline-start.sh
rm -rf /tmp/mb/results/$M
export MLXBENCH_PRECISIONS=strict
for r in S1 S2; do
  bench_run $r 150 mlx_gpu,cuda latency --bench '^bench_(floor|activations)\..*time_latency'
  mark "passes $r: $(grep '^time:' $L/latency-$r.log | tr '\n' ';')"
done
stability_pair S1 S2
mark "all done"
