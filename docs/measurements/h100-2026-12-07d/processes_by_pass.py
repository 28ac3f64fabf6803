"""Which of a run's GPU passes held the slow processes: for each pass (one asv process per GPU figure),
how many figures' processes sat more than 10 % above the fastest process of their figure, per backend;
and the median spread between a figure's processes. A harness fault would slow the same cases in both
runs; a busy host slows whatever ran while it was busy. It splits them as tools.stability does. From the
project's root:
PYTHONPATH=. python docs/measurements/h100-2026-12-07d/processes_by_pass.py ROUNDS results-S1.json.gz results-S2.json.gz"""
import gzip
import shutil
import statistics
import sys
import tempfile

from asv.results import Results

from tools.stability import backend_of, process_levels, spread


def process_levels_by_backend(path, rounds):
    """{backend: [each figure's process levels]} of a gzipped asv result file's latency figures."""
    with tempfile.NamedTemporaryFile(suffix=".json") as plain:
        shutil.copyfileobj(gzip.open(path), plain)
        plain.flush()
        result = Results.load(plain.name)
    found = {}
    for key in (key for key in result.get_all_result_keys() if key.endswith("time_latency")):
        for combo, levels in process_levels(result, key, rounds).items():
            found.setdefault(backend_of(combo), []).append(levels)
    return found


rounds = int(sys.argv[1])
print("run | backend | figures | slow processes (>x1.1 the figure's fastest) in pass 1..N | median spread")
for path in sys.argv[2:]:
    levels = process_levels_by_backend(path, rounds)
    for backend in ("cuda", "mlx_gpu"):
        mine = levels.get(backend, [])
        slow = [sum(split[i] > 1.1 * min(split) for split in mine) for i in range(rounds)]
        median_spread = statistics.median(spread(split) for split in mine)
        print(f"{path} | {backend} | {len(mine)} | {' '.join(map(str, slow))} | x{median_spread:.3f}")
