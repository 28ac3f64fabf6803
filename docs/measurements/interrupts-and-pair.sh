# Sourced by a lease pipeline after pipeline-start.sh (session-20-pipeline.sh says why): P, where the
# GPU's interrupts go and tools.processes on MLX's floor unpinned and avoiding them; A and B, the
# float32 latency half twice back to back (avoiding them unless P found that slower); tools.stability.

probe() {  # $1: label; the rest: tools.processes arguments
  local label=$1; shift
  echo "## $label: $*"
  timeout 120 python3 -m tools.processes "$@" --processes 5
}
medians() { awk -F'|' '/^\| p[0-9]/ {gsub(/ /, "", $9); print $9}' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

mark "start P: the GPU's interrupts and tools.processes both ways"
{ grep -E '^ *CPU|nvidia' /proc/interrupts
  for irq in $(awk '/nvidia/ {sub(":", "", $1); print $1}' /proc/interrupts); do
    echo "## irq $irq effective $(cat /proc/irq/$irq/effective_affinity_list 2>&1) allowed $(cat /proc/irq/$irq/smp_affinity_list 2>&1)"
  done; } > $L/interrupts.txt 2>&1
for round in 1 2; do
  probe "unpinned $round" "Floor / dim=1" --backend mlx_gpu > $L/floor-unpinned-$round.txt 2>&1
  probe "avoiding $round" "Floor / dim=1" --backend mlx_gpu --avoid-gpu-interrupts > $L/floor-avoiding-$round.txt 2>&1
done
probe unpinned "GELU / dim=1x32x11008" --backend mlx_gpu > $L/gelu-unpinned.txt 2>&1
probe avoiding "GELU / dim=1x32x11008" --backend mlx_gpu --avoid-gpu-interrupts > $L/gelu-avoiding.txt 2>&1
probe avoiding "Floor / dim=1" --backend cuda --avoid-gpu-interrupts > $L/floor-cuda-avoiding.txt 2>&1
unpinned=$(medians $L/floor-unpinned-*.txt); avoiding=$(medians $L/floor-avoiding-*.txt)
mark "end P: mlx_gpu floor, median process unpinned $unpinned us, avoiding $avoiding us; GELU $(medians $L/gelu-unpinned.txt) and $(medians $L/gelu-avoiding.txt) us"

HOW=--avoid-gpu-interrupts
if awk -v a="$avoiding" -v u="$unpinned" 'BEGIN {exit !(a + 0 > 0 && u + 0 > 0 && a > 1.1 * u)}'; then HOW=""; fi
mark "A and B run ${HOW:-unpinned}"
latency_half A 800 $HOW
latency_half B 800 $HOW
cd /tmp/mb && python3 -m tools.stability $L/results-A $L/results-B --machine $M --backends mlx_gpu,cuda \
  --dtypes float32 --bench 'time_latency$' > $L/stability-pair.txt 2>&1
mark "stability: $(grep -o 'median change [0-9.]*%.*beyond x1.1: [0-9]*' $L/stability-pair.txt | head -1)"
