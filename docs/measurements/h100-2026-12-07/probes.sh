source docs/measurements/pipeline-start.sh
cd /tmp/mb && for b in cuda mlx_gpu; do
  timeout 60 python3 -m tools.process_cost "MatMul / dim=1000x64x256 dim=256x32" "Floor / dim=1" --backend $b
done > $L/process-cost.txt 2>&1
mark "end P: $(grep -c '^| median' $L/process-cost.txt) of 4 tables"
preload_probe
mark "all done"
