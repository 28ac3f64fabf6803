"""Pictures of asv's results, as PNG files.

    python -m tools.plot families --machine NAME [--release V] [--precision strict] [--dtype float32]
                                  [--metric latency|throughput|memory] [--out DIR]
    python -m tools.plot history --machine NAME --row "Softmax / dim=64x1000000 axi=-1" [--out FILE]

`families`: per op family, the milliseconds of every backend with figures, per case, as grouped bars
(log scale when they span more than 20x), each backend's floor (the synchronised one-element op) as
a dashed line; with `--metric memory`, each call's peak memory in MB instead (no floor).
`history`: one case over the MLX releases with results, a line per backend.
"""

import argparse
import io
import math
import sys
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402

from benchmarks.common import BACKEND_NAMES, DTYPES, PRECISIONS, op_families  # noqa: E402
from tools import timeline  # noqa: E402
from tools.speedup_table import (  # noqa: E402
    MEGABYTE, METRIC_NOTES, RESULTS, TIME_METRICS, TableError, _measured, _num, cell_values, check_modes,
    check_writable, find_row, load_results, pick_result, table_families, write_atomically)

LOG_SCALE_SPREAD = 20
METRICS = (*TIME_METRICS, "memory")
UNITS = {"memory": ("MB per call (peak)", 1 / MEGABYTE)}  # asv's bytes; time metrics: its seconds, drawn in ms


def figure_of(cell):
    """asv's figure as a float, or None (skipped, failed, not run); memory figures are ints (bytes)."""
    return float(cell) if isinstance(cell, (int, float)) and _measured(float(cell)) else None


def unit(metric):
    """(axis label, factor from asv's figure) of `metric`."""
    return UNITS.get(metric, ("ms per call", 1e3))


def family_bars(result, family, precision="strict", metric="latency", dtype="float32"):
    """{backend: [ms (MB for memory) or None per case]} for the backends with at least one figure, cases
    in order."""
    cells = cell_values(result, family, precision, metric, dtype)
    factor = unit(metric)[1]
    bars = {}
    for backend in BACKEND_NAMES:
        values = [figure_of(cells.get((label, backend))) for label in family.cases]
        values = [v * factor if v is not None else None for v in values]
        if any(v is not None for v in values):
            bars[backend] = values
    return bars


def release_series(results, family, label, precision="strict", metric="latency", dtype="float32"):
    """{backend: [(release, ms or MB)]} over the results' MLX releases, oldest first (the timeline's order)."""
    order = {version: i for i, (version, _) in enumerate(timeline.read_releases())}
    series = {}
    for result in sorted(results, key=lambda r: order.get(r.params.get("mlx"), math.inf)):
        for (case, backend), value in cell_values(result, family, precision, metric, dtype).items():
            if case == label and figure_of(value) is not None:
                series.setdefault(backend, []).append((result.params.get("mlx", "?"), value * unit(metric)[1]))
    return series


def floors(result):
    """{backend: ms} of the synchronised one-element op, where it was measured."""
    floor = [family for family in op_families() if family.__name__ == "Floor"]
    values = cell_values(result, floor[0]) if floor else {}
    return {backend: value * 1e3 for (_, backend), value in values.items() if _measured(_num(value))}


def family_figure(title, labels, bars, floor_ms=None, label="ms per call"):
    figure, axes = plt.subplots(figsize=(max(6.0, 1.6 * len(labels) + 2), 4.2))
    width = 0.8 / len(bars)
    for i, (backend, values) in enumerate(bars.items()):
        xs = [j + (i - (len(bars) - 1) / 2) * width for j, v in enumerate(values) if v is not None]
        drawn = axes.bar(xs, [v for v in values if v is not None], width, label=backend)
        if backend in (floor_ms or {}):
            axes.axhline(floor_ms[backend], color=drawn.patches[0].get_facecolor(), linestyle="--", linewidth=0.8,
                         label=f"{backend} floor")
    measured = [v for values in bars.values() for v in values if v is not None and v > 0]  # a peak can be 0
    if measured and max(measured) / min(measured) > LOG_SCALE_SPREAD:
        axes.set_yscale("log")
    axes.set_xticks(range(len(labels)), [case.replace(" ", "\n") for case in labels], fontsize=7)
    return finished(figure, axes, title, label)


def history_figure(title, series, label="ms per call"):
    figure, axes = plt.subplots(figsize=(7, 4))
    for backend, points in series.items():
        axes.plot([release for release, _ in points], [ms for _, ms in points], marker="o", label=backend)
    axes.set_xlabel("MLX release")
    return finished(figure, axes, title, label)


def finished(figure, axes, title, label):
    axes.set_ylabel(label)
    # Wrapped to the figure (about 12 characters of 9-point text an inch): a metric's note can be long.
    axes.set_title(textwrap.fill(title, int(figure.get_figwidth() * 12)), fontsize=9)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars, never over them
    figure.tight_layout()
    return figure


def save_png(figure, path):
    """The figure as a PNG at `path`, written whole or not at all."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TableError(f"cannot make the folder {path.parent} ({error.strerror}); name another --out")
    write_atomically(path, buffer.getvalue())
    return path


def plot_families(args):
    result = pick_result(load_results(args.results, args.machine)[args.machine], args.machine, args.release)
    written = []
    for family in table_families():
        bars = family_bars(result, family, args.precision, args.metric, args.dtype)
        if bars:
            title = (f"{family.__name__} on {args.machine}: MLX {result.params.get('mlx', '?')}, torch "
                     f"{result.params.get('torch', '?')}, {args.dtype} {args.precision}, {METRIC_NOTES[args.metric]}")
            name = f"{args.machine}-{family.__name__}-{args.precision}{_dtype_suffix(args.dtype)}-{args.metric}.png"
            floor = floors(result) if args.metric in TIME_METRICS else None
            figure = family_figure(title, family.cases, bars, floor, unit(args.metric)[0])
            written.append(save_png(figure, Path(args.out) / name))
    if not written:
        raise TableError(f"the results of {args.machine} have no {args.dtype} {args.metric} figure to draw")
    return written


def _dtype_suffix(dtype):
    return "" if dtype == "float32" else f"-{dtype}"  # float32's pictures keep the names they had


def plot_history(args):
    family, label = find_row(args.row, table_families())
    series = release_series(load_results(args.results, args.machine)[args.machine], family, label, args.precision,
                            args.metric, args.dtype)
    if not series:
        raise TableError(f"{args.machine} has no {args.dtype} {args.metric} figure of {args.row!r}")
    title = f"{args.row} on {args.machine}, {args.dtype} {args.precision}, {METRIC_NOTES[args.metric]}"
    name = f"{args.machine}-history{_dtype_suffix(args.dtype)}.png"
    out = args.out if _is_png(args.out) else str(Path(args.out) / name)
    return [save_png(history_figure(title, series, unit(args.metric)[0]), out)]


def _is_png(out):
    return out.lower().endswith(".png")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.plot", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("families", "history"))
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--machine", required=True)
    parser.add_argument("--release", help="with families: MLX release (default: the newest with results)")
    parser.add_argument("--row", help="with history: the case, as the tables name it")
    parser.add_argument("--precision", choices=PRECISIONS, default="strict")
    parser.add_argument("--dtype", choices=DTYPES, default="float32")
    parser.add_argument("--metric", choices=METRICS, default="latency")
    parser.add_argument("--out", default="plots", help="folder (families) or folder or .png file (history)")
    args = parser.parse_args(argv)
    if args.what == "history" and not args.row:
        parser.error("history needs --row 'Family / case'")
    if args.what == "history" and args.release:
        parser.error("history draws every release with results: leave out --release")
    try:
        check_modes(args.dtype, args.precision)
        check_writable(args.out, folder=not (args.what == "history" and _is_png(args.out)))
        written = plot_families(args) if args.what == "families" else plot_history(args)
    except (TableError, timeline.TimelineError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
