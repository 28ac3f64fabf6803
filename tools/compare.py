"""Two releases (or two machines) side by side, per case and backend, largest slowdown first.

    python -m tools.compare --machine NAME --releases 0.31.0 0.32.4   # what got slower in 0.32.4
    python -m tools.compare --machines mac-m1 h100 [--release 0.32.4] # one release on two machines

`ratio` is after / before, as in `asv compare`: above 1 the second one is slower. Where both sides'
figures pool `make bench`'s GPU processes (one per asv run, `gpu_rounds` runs, or as many as
--gpu-rounds says), `processes' spread` is how far one run's processes differ (the highest over the
lowest, the larger of the two sides): a ratio within it is what running the same release again moves
a figure by, on that machine.
"""

import argparse
import sys

from tabulate import tabulate

from benchmarks.common import DTYPES, PRECISIONS, OpBenchmark
from tools.speedup_table import (RESULTS, TableError, _format_ms, _measured, _num, cell_values, emit, load_results,
                                 pick_result, table_families)
from tools.options import add_gpu_rounds
from tools.stability import levels_of, spread


def compared_rows(before, after, precision, dtype="float32", rounds=OpBenchmark.gpu_rounds):
    rows = []
    for family in table_families():
        old, new = (cell_values(result, family, precision, dtype=dtype) for result in (before, after))
        old_samples, new_samples = (cell_values(result, family, precision, dtype=dtype, samples=True)
                                    for result in (before, after))
        for (label, backend) in old.keys() | new.keys():
            a, b = _num(old.get((label, backend))), _num(new.get((label, backend)))
            if not (_measured(a) or _measured(b)):
                continue
            ratio = b / a if _measured(a) and _measured(b) else None
            levels = [levels_of(samples.get((label, backend)), rounds) for samples in (old_samples, new_samples)]
            spreads = [spread(run) for run in levels if run]
            rows.append({"row": f"{family.__name__} / {label}", "backend": backend,
                         "before": old.get((label, backend), "not run"), "after": new.get((label, backend), "not run"),
                         "ratio": ratio, "spread": max(spreads) if len(spreads) == 2 and all(spreads) else None})
    return sorted(rows, key=lambda r: (r["ratio"] is None, -(r["ratio"] or 0), r["row"], r["backend"]))


def render(rows, names, fmt):
    table = [[r["row"], r["backend"], _format_ms(r["before"]), _format_ms(r["after"]),
              "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}"] for r in rows]
    head = ["Operation", "backend", f"{names[0]} ms", f"{names[1]} ms", "ratio (after/before)"]
    if any(r["spread"] for r in rows):  # only figures of make bench's GPU processes have one
        head.append("processes' spread")
        for cells, r in zip(table, rows):
            cells.append(f"{r['spread']:.2f}" if r["spread"] else "")
    if fmt == "csv":
        return tabulate(table, head, tablefmt="tsv").replace("\t", ",") + "\n"
    return tabulate(table, head, tablefmt="github", disable_numparse=True,
                    colalign=("left", "left", "right", "right", "right", "right")[:len(head)]) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=str(RESULTS))
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--releases", nargs=2, metavar=("BEFORE", "AFTER"), help="two MLX releases on --machine")
    which.add_argument("--machines", nargs=2, metavar=("BEFORE", "AFTER"), help="two machines at --release")
    parser.add_argument("--machine", help="the machine, with --releases")
    parser.add_argument("--release", help="the release, with --machines (default: newest with results on each)")
    parser.add_argument("--precision", choices=PRECISIONS, default="strict")
    parser.add_argument("--dtype", choices=DTYPES, default="float32")
    parser.add_argument("--format", choices=("markdown", "csv"), default="markdown")
    add_gpu_rounds(parser, OpBenchmark.gpu_rounds)
    parser.add_argument("--output", help="also write the comparison to this file")
    args = parser.parse_args(argv)
    if args.releases and not args.machine:
        parser.error("--releases needs --machine NAME")
    if args.releases and args.release:
        parser.error("--release picks one release for --machines; --releases names both already")
    if args.machines and args.machine:
        parser.error("--machine picks the machine for --releases; --machines names both already")

    def comparison():
        if args.releases:
            results = load_results(args.results, args.machine)[args.machine]
            pair = [pick_result(results, args.machine, release=r) for r in args.releases]
            names = [f"mlx {r}" for r in args.releases]
        else:
            pair = [pick_result(load_results(args.results, m)[m], m, release=args.release) for m in args.machines]
            names = args.machines
        rows = compared_rows(*pair, args.precision, args.dtype, args.gpu_rounds)
        if not any(r["ratio"] is not None for r in rows):
            half = " (dtypes other than float32 only where MLXBENCH_DTYPES asked for them)" * (args.dtype != "float32")
            raise TableError(f"{names[0]} and {names[1]} have no {args.dtype} case and backend measured in both{half}")
        return render(rows, names, args.format)

    return emit(comparison, args.output)


if __name__ == "__main__":
    sys.exit(main())
