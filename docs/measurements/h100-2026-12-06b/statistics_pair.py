"""The back-to-back pair of this folder by other statistics over the same samples. asv's figure is the
median of all of a figure's samples (three processes of 25, one per GPU pass); against it, the median
of the three processes' medians, the lowest process median, and the lowest sample. Per band of run A's
figure: how many moved beyond 10 % and the median change.

    .venv/bin/python docs/measurements/h100-2026-12-06b/statistics_pair.py DEVICE/results-A DEVICE/results-B [--write CSV]
    .venv/bin/python docs/measurements/h100-2026-12-06b/statistics_pair.py --read docs/measurements/h100-2026-12-06b/pair-by-process.csv

The CSV keeps, per float32 figure of mlx_gpu and cuda, each run's three process medians, lowest
sample and asv's figure (seconds): enough to redo this without the runs' result files (2.8 MB each,
not kept)."""

import argparse
import csv
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the tree's root: its tools read the runs
from tools.speedup_table import load_results, pick_result  # noqa: E402
from tools.stability import by_combo, levels_of  # noqa: E402

MACHINE = "h100-sxm-80gb"
STATISTICS = {  # of (process medians, lowest sample, asv's figure)
    "asv's median of all samples": lambda medians, low, figure: figure,
    "median of the process medians": lambda medians, low, figure: statistics.median(medians),
    "lowest process median": lambda medians, low, figure: min(medians),
    "lowest sample": lambda medians, low, figure: low,
}


def per_process(folder):
    """{(benchmark, parameters): ([process medians], lowest sample, asv's figure)} of the float32
    mlx_gpu and cuda latency figures whose samples are make bench's three GPU processes', read with
    asv's loader and split as tools.stability splits them."""
    result = pick_result(load_results(folder, MACHINE)[MACHINE], MACHINE)
    found = {}
    for key in (key for key in result.get_all_result_keys() if key.endswith("time_latency")):
        values = by_combo(result, key, result.get_result_value)
        for combo, samples in by_combo(result, key, result.get_result_samples).items():
            medians = levels_of(samples)
            if medians and combo[1] in ("'mlx_gpu'", "'cuda'") and not {"'float16'", "'bfloat16'"} & set(combo):
                found[(key, ", ".join(combo))] = (medians, min(samples), values[combo])  # float32 unnamed
    return found


def report(a, b):
    keys = sorted(set(a) & set(b))
    rows = []
    for label, statistic in STATISTICS.items():
        for low, high in ((0, 2e-4), (2e-4, 1e-3), (1e-3, float("inf"))):
            band = [k for k in keys if low <= a[k][2] < high]  # by run A's figure, as tools.stability bands
            ratios = [statistic(*b[k]) / statistic(*a[k]) for k in band]
            rows.append(f"| {label} | {low * 1e3:g}-{high * 1e3:g} ms | {len(band)} | "
                        f"{sum(r > 1.1 or r < 1 / 1.1 for r in ratios)} | "
                        f"{100 * statistics.median(abs(r - 1) for r in ratios):.1f} % |")
    return ("| statistic | band (run A's figure) | figures | beyond 10 % | median change |\n"
            "|---|---|---|---|---|\n" + "\n".join(rows))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", help="the two runs' results folders")
    parser.add_argument("--write", help="keep the per-process figures in this CSV")
    parser.add_argument("--read", help="take them from such a CSV instead of the runs")
    args = parser.parse_args()
    if args.read:
        a, b = {}, {}
        for row in csv.DictReader(open(args.read)):
            key = (row["benchmark"], row["parameters"])
            for run, found in (("A", a), ("B", b)):
                found[key] = ([float(row[f"{run} p{i}"]) for i in (1, 2, 3)], float(row[f"{run} lowest"]),
                              float(row[f"{run} asv"]))
    else:
        a, b = per_process(args.runs[0]), per_process(args.runs[1])
    if args.write:
        with open(args.write, "w", newline="") as out:
            table = csv.writer(out)
            table.writerow(["benchmark", "parameters", *(f"{run} {what}" for run in "AB"
                                                         for what in ("p1", "p2", "p3", "lowest", "asv"))])
            for key in sorted(set(a) & set(b)):
                table.writerow([*key, *(f"{v:.9g}" for run in (a, b) for v in (*run[key][0], *run[key][1:]))])
    print(report(a, b))


if __name__ == "__main__":
    main()
