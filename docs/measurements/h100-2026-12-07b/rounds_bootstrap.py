"""How often two back-to-back runs of k processes a figure would differ by more than 10 %, by
resampling the six process figures (medians of 25 samples) that runs R and S of 2026-12-07 hold for
each GPU figure. Usage: python rounds_bootstrap.py results-R.json.gz results-S.json.gz"""
import gzip
import itertools
import json
import random
import statistics
import sys


def process_figures(path):
    data = json.load(gzip.open(path))
    figures = {}
    for name, values in data["results"].items():
        row = dict(zip(data["result_columns"], values))
        if not name.endswith("time_latency") or not row.get("samples"):
            continue
        for combo, samples in zip(itertools.product(*row["params"]), row["samples"]):
            if samples and len(samples) == 75 and ("'mlx_gpu'" in combo or "'cuda'" in combo):
                figures[(name, combo)] = [statistics.median(samples[k:k + 25]) for k in range(0, 75, 25)]
    return figures


first, second = (process_figures(path) for path in sys.argv[1:3])
random.seed(0)
print("k processes a figure | figures | expected beyond 10 % (all) | (0.2 ms up)")
for k in (3, 4, 5, 6):
    beyond, beyond_large, count = 0.0, 0.0, 0
    for key in first.keys() & second.keys():
        pool = first[key] + second[key]
        trials = 400
        hits = sum(max(a, b) / min(a, b) > 1.1 for a, b in (
            (statistics.median(random.choices(pool, k=k)), statistics.median(random.choices(pool, k=k)))
            for _ in range(trials)))
        beyond += hits / trials
        beyond_large += hits / trials if statistics.median(pool) >= 2e-4 else 0
        count += 1
    print(f"{k} | {count} | {beyond:.1f} | {beyond_large:.1f}")
