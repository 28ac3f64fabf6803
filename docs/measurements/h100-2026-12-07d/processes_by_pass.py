"""Which of a run's GPU passes held the slow processes: for each pass (one asv process per GPU figure),
how many figures' processes sat more than 10 % above the fastest process of their figure, per backend;
and the median spread between a figure's processes. A harness fault would slow the same cases in both
runs; a busy host slows whatever ran while it was busy. Usage:
python processes_by_pass.py ROUNDS results-S1.json.gz results-S2.json.gz [more runs]"""
import gzip
import itertools
import json
import statistics
import sys

BLOCK = 25  # samples a process takes when it takes asv's most (OpBenchmark.repeat[1])


def process_levels(path, rounds):
    data = json.load(gzip.open(path))
    levels = {}
    for name, values in data["results"].items():
        row = dict(zip(data["result_columns"], values))
        if not name.endswith("time_latency") or not row.get("samples"):
            continue
        for combo, samples in zip(itertools.product(*row["params"]), row["samples"]):
            backend = combo[1].strip("'")
            if samples and len(samples) == rounds * BLOCK and backend in ("mlx_gpu", "cuda"):
                levels[(name, combo)] = (backend, [statistics.median(samples[k:k + BLOCK])
                                                   for k in range(0, len(samples), BLOCK)])
    return levels


rounds = int(sys.argv[1])
print("run | backend | figures | slow processes (>x1.1 the figure's fastest) in pass 1..N | median spread")
for path in sys.argv[2:]:
    levels = process_levels(path, rounds)
    for backend in ("cuda", "mlx_gpu"):
        mine = [split for b, split in levels.values() if b == backend]
        slow = [sum(level > 1.1 * min(split) for split in mine for level in split[i:i + 1]) for i in range(rounds)]
        spread = statistics.median(max(split) / min(split) for split in mine)
        print(f"{path} | {backend} | {len(mine)} | {' '.join(map(str, slow))} | x{spread:.3f}")
