"""Do two runs of the suite agree? asv's own comparison (`asv compare`'s table) between two asv
results folders of one machine and release, then the median and the largest change, and where the
changes lie: per backend and band of the first run's time, and per module and backend. Where a
figure's samples are those of `make bench`'s GPU processes (`gpu_rounds` asv runs, one process each),
their medians per process too: how far one run's processes differ, and how many of the figures that
moved beyond the factor moved no more than that. And what a process's first two samples add over
the median of its others, per run.

    python -m tools.stability results/ docs/measurements/h100-second-run-2026-11-25/ --machine h100-sxm-80gb
        [--factor 1.1] [--backends mlx_gpu,cuda] [--dtypes float32] [--bench time_latency] [--gpu-rounds 3]

The last three compare only some figures (default: all): two result files that share figures copied
from a third (`tools.merge_results`) agree on those by construction, and would hide the ones that differ.

`asv compare` compares two commits of one results folder; two runs of the same release are two
folders, so their results are handed to its table directly. Under the table, how many figures it
marks changed (beyond the factor and significant by its test) and how many more moved beyond the
factor without its test finding them significant. Exit 1 when a case changed by more than the
factor, in either direction, significant or not.
"""

import argparse
import contextlib
import io
import itertools
import math
import statistics
import sys
from pathlib import Path

from tabulate import tabulate

from asv.commands.compare import Compare
from asv.config import Config

from benchmarks.backends import BACKEND_NAMES
from benchmarks.common import DTYPES, OpBenchmark
from tools.merge_results import MergeError, Selection
from tools.options import add_gpu_rounds
from tools.speedup_table import RESULTS, TableError, emit, load_results, pick_result
from tools.timeline import ROOT


def resultset(result, selection=None, env_name=None):
    """A result as the rows asv's comparison table reads: the figures `selection` picks (a backend and
    dtype selection keeps a grid of parameters, which is what asv's rows are read from), under
    `env_name` if given: asv pairs two runs' rows by machine and environment, and the same release
    run from two checkouts or interpreters is two environments (`existing-py_<interpreter path>`)."""
    selection = selection or Selection()
    for key in filter(selection.benchmark, result.get_all_result_keys()):
        params = result.get_result_params(key)
        combos = list(itertools.product(*params))
        kept = [index for index, combo in enumerate(combos) if selection.figure(key, combo)]
        if not kept:
            continue
        grid = [[value for value in values if any(combos[index][dim] == value for index in kept)]
                for dim, values in enumerate(params)]
        assert list(itertools.product(*grid)) == [combos[index] for index in kept]
        columns = []
        for read in (result.get_result_value, result.get_result_stats, result.get_result_samples):
            listed = read(key, params)
            columns.append(None if listed is None else [listed[index] for index in kept])
        yield (key, grid, *columns, result.benchmark_version.get(key), result.params["machine"],
               env_name or result.env_name)


def figures(result, key):
    """{parameter values: figure} of one benchmark. float32 goes unnamed: results written before the
    dtype parameter have none, and their figures are float32 ones."""
    return by_combo(result, key, result.get_result_value)


def by_combo(result, key, read):
    """{parameter values, float32 unnamed: what `read(key, params)` lists} of one benchmark."""
    params = result.get_result_params(key)
    combos = itertools.product(*params) if params else [()]
    return {tuple(value for value in combo if value != "'float32'"): item
            for combo, item in zip(combos, read(key, params))}


# A GPU figure of `make bench` pools the samples of gpu_rounds asv runs, one process each, which asv
# appends in run order; a process that took asv's most samples fills a block of this many.
PROCESS_SAMPLES = OpBenchmark.repeat[1]


def processes_of(samples):
    """A figure's samples as its processes' blocks, in run order, where they split into full processes
    (fast cases: a slower case's processes take fewer samples, and where one ends is not recorded),
    else None."""
    if samples and len(samples) % PROCESS_SAMPLES == 0:
        return [samples[i:i + PROCESS_SAMPLES] for i in range(0, len(samples), PROCESS_SAMPLES)]
    return None


def levels_of(samples, rounds=OpBenchmark.gpu_rounds):
    """Each process's median where `samples` are `rounds` full processes' (`make bench --gpu-rounds`),
    else None."""
    blocks = processes_of(samples)
    return [statistics.median(block) for block in blocks] if blocks and len(blocks) == rounds else None


def backend_of(combo):
    return combo[1].strip("'") if len(combo) > 1 else "-"


def first_samples(result, selection=None):
    """[(backend, band, a process's first sample less the median of its others, its second's)], in
    seconds, for each process of every timed figure (that `selection` picks) whose samples split into
    full processes of PROCESS_SAMPLES: what a process's first samples add while asv's timing path is
    still cold."""
    selection = selection or Selection()
    found = []
    for key in (key for key in result.get_all_result_keys() if ".time_" in key and selection.benchmark(key)):
        for combo, samples in by_combo(result, key, result.get_result_samples).items():
            if not selection.figure(key, combo):
                continue
            for process in processes_of(samples) or ():
                rest = statistics.median(process[2:])
                band = next(name for limit, name in TIME_BANDS if rest < limit)
                found.append((backend_of(combo), band, (process[0] - rest, process[1] - rest)))
    return found


def first_samples_table(runs):
    """A table: per run, backend and band, the processes and the median of what their first and
    second samples add (us); `runs` is [(name, first_samples(result))]."""
    rows = [(name, backend, band, len(excess), f"{statistics.median(e[0] for e in excess) * 1e6:+.1f}",
             f"{statistics.median(e[1] for e in excess) * 1e6:+.1f}")
            for name, found in runs for (backend, band), excess in by_backend_and_band(found)]
    return tabulate(rows, headers=("run", "backend", "time", "processes", "1st sample (us)", "2nd sample (us)"),
                    tablefmt="github", disable_numparse=True)


def process_levels(result, key, rounds=OpBenchmark.gpu_rounds):
    """{parameter values: [each process's median]} of the figures `levels_of` splits into `rounds`."""
    samples_of = by_combo(result, key, result.get_result_samples)
    levels = {combo: levels_of(samples, rounds) for combo, samples in samples_of.items()}
    return {combo: split for combo, split in levels.items() if split}


# Bands of a call's time (seconds): launch and synchronisation dominate the first, where two processes
# differ most; a breakdown by them tells a noisy harness from noisy small cases.
TIME_BANDS = ((2e-4, "under 0.2 ms"), (1e-3, "0.2-1 ms"), (1e-2, "1-10 ms"), (1e-1, "10-100 ms"),
              (math.inf, "0.1 s and over"))


def changes(before, after, selection=None, rounds=OpBenchmark.gpu_rounds):
    """[(benchmark and parameters, backend, band of the first run's figure, after / before, the two
    runs' process levels or None)] for every figure measured in both runs that `selection` picks; the
    levels where a figure's samples split into `rounds` processes."""
    selection = selection or Selection()
    ratios = []
    shared = set(before.get_all_result_keys()) & set(after.get_all_result_keys())
    for key in sorted(filter(selection.benchmark, shared)):
        old, new = figures(before, key), figures(after, key)
        old_levels, new_levels = process_levels(before, key, rounds), process_levels(after, key, rounds)
        for combo in (combo for combo in old if combo in new and selection.figure(key, combo)):
            a, b = old[combo], new[combo]
            if all(v is not None and not math.isnan(v) and v > 0 for v in (a, b)):
                backend = backend_of(combo)
                band = next(name for limit, name in TIME_BANDS if a < limit) if ".time_" in key else "memory"
                levels = (old_levels[combo], new_levels[combo]) if combo in old_levels and combo in new_levels else None
                ratios.append((f"{key}({', '.join(combo)})", backend, band, b / a, levels))
    return ratios


def median_change(ratios):
    return math.exp(statistics.median(abs(math.log(r)) for r in ratios)) - 1


def spread(levels):
    """Highest process level over lowest, within one run (None if one is not positive)."""
    return max(levels) / min(levels) if min(levels) > 0 else None


def by_backend_and_band(items):
    """[((backend, band), [item, ...])] from (backend, band, item) triples, by backend, then band in
    TIME_BANDS' order."""
    order = {name: i for i, (_, name) in enumerate(TIME_BANDS)}
    groups = {}
    for backend, band, item in items:
        groups.setdefault((backend, band), []).append(item)
    return sorted(groups.items(), key=lambda group: (group[0][0], order.get(group[0][1], 99)))


def by_process(ratios, factor, rounds=OpBenchmark.gpu_rounds):
    """A table: per backend and band, of the figures whose samples split into their processes, the
    median spread between one run's processes, and of those beyond `factor`, how many moved no more
    than the processes within either run differ: run to run, what changed is which processes the
    figure got, not the machine."""
    split = [(backend, band, (r, levels)) for _, backend, band, r, levels in ratios
             if levels and all(map(spread, levels))]
    rows, totals = [], [0, 0]
    for (backend, band), figures_ in by_backend_and_band(split):
        beyond = [(r, levels) for r, levels in figures_ if max(r, 1 / r) > factor]
        within = sum(max(r, 1 / r) <= max(map(spread, levels)) for r, levels in beyond)
        totals = [totals[0] + len(beyond), totals[1] + within]
        rows.append((backend, band, len(figures_),
                     f"x{statistics.median(spread(run) for _, levels in figures_ for run in levels):.3f}", len(beyond),
                     within))
    table = tabulate(rows, headers=("backend", "first run's time", f"figures of {rounds} processes",
                                    "spread between processes", f"beyond x{factor}", "of those, within the spread"),
                     tablefmt="github", disable_numparse=True)
    # one line to quote: whether what moved is the machine's noise within a run or a change between them
    return (f"{table}\n\nOf the {totals[0]} figures split into processes that moved beyond x{factor}, {totals[1]} "
            "moved no more than one run's own processes differ.")


# A GPU figure's processes, highest over lowest, median over a run's figures of a backend: 1.009-1.046
# on the quiet H100 hosts of 2026-12-06/07, 1.084-1.560 on the busy ones; pairs of whole GPU halves
# put 4 of 177 and 21 of 223 figures beyond x1.1 on quiet hosts, 27, 39, 52 and 54 of 177 and 51 of
# 223 on busy ones (docs/timing-checks.md).
BUSY_SPREAD = 1.05


def spreads_of_run(result, rounds, since_ms=0):
    """{backend: the median spread between a figure's processes} over the timed figures of `result`
    whose samples split into `rounds` processes and whose benchmark last started at `since_ms` (asv's
    milliseconds) or later: those one run of `make bench` timed."""
    found = {}
    for key in (key for key in result.get_all_result_keys() if ".time_" in key):
        if (result.started_at.get(key) or 0) >= since_ms:
            for combo, levels in process_levels(result, key, rounds).items():
                if spread(levels):
                    found.setdefault(backend_of(combo), []).append(spread(levels))
    return {backend: statistics.median(spreads) for backend, spreads in sorted(found.items())}


def busy_note(spreads):
    """The line `make bench` prints after its GPU passes: how far a figure's processes differed, and
    whether the machine was busy enough for a second run to differ as much; None without figures."""
    if not spreads:
        return None
    line = ("note: the median GPU figure's processes differed by " +
            ", ".join(f"x{value:.3f} ({backend})" for backend, value in spreads.items()) + ", highest over lowest")
    if max(spreads.values()) > BUSY_SPREAD:
        line += (f"; above x{BUSY_SPREAD} the machine was busy while they ran, and a run beside this one may differ "
                 "by as much: compare runs (`python -m tools.stability`) from a quiet machine")
    return line


def breakdown(ratios, factor):
    """A table: per backend and band, the figures, their median change and how many moved beyond `factor`."""
    rows = [(backend, band, len(rs), f"{median_change(rs):.1%}", sum(max(r, 1 / r) > factor for r in rs))
            for (backend, band), rs in by_backend_and_band((backend, band, r) for _, backend, band, r, _ in ratios)]
    return tabulate(rows, headers=("backend", "first run's time", "figures", "median change", f"beyond x{factor}"),
                    tablefmt="github")


LEAN = 0.02  # a figure that moved more than this counts as faster or slower in `by_module`


def by_module(ratios):
    """A table: per module and backend, the median after / before and how many figures moved each way
    by more than LEAN. `make bench` runs each module in asv runs of its own; a median away from 1 with
    most figures one way is a shift the module's processes shared, not one case's noise."""
    groups = {}
    for name, backend, _, r, _ in ratios:
        groups.setdefault((name.split(".")[0], backend), []).append(r)
    rows = [(module, backend, len(rs), f"{statistics.median(rs):.3f}", sum(r < 1 - LEAN for r in rs),
             sum(r > 1 + LEAN for r in rs)) for (module, backend), rs in sorted(groups.items())]
    return tabulate(rows, headers=("module", "backend", "figures", "median after/before", f"faster by {LEAN:.0%}+",
                                   f"slower by {LEAN:.0%}+"), tablefmt="github", disable_numparse=True)


def summary(ratios, factor, rounds=OpBenchmark.gpu_rounds):
    if not ratios:
        raise TableError("the two runs have no figure in common")
    beyond = [(name, r) for name, _, _, r, _ in ratios if max(r, 1 / r) > factor]
    worst_name, _, _, worst, _ = max(ratios, key=lambda item: abs(math.log(item[3])))
    lines = [f"{len(ratios)} figures in both runs; median change {median_change([item[3] for item in ratios]):.1%}; "
             f"largest {worst_name}: x{worst:.3f}; beyond x{factor}: {len(beyond)}", "", breakdown(ratios, factor), "",
             by_module(ratios), ""]
    if any(levels for *_, levels in ratios):
        lines += [by_process(ratios, factor, rounds), ""]
    lines += [f"  {name}: x{r:.3f}" for name, r in sorted(beyond, key=lambda item: -abs(math.log(item[1])))]
    return "\n".join(lines) + "\n", not beyond


def benchmark_list_folder(*folders):
    """The first of `folders` (then results/) holding asv's benchmarks.json, the names and units of
    the benchmarks that asv's comparison table reads."""
    for folder in (*folders, RESULTS):
        if (Path(folder) / "benchmarks.json").is_file():
            return folder
    raise TableError(f"no benchmarks.json (asv writes it beside the results) in {' or '.join(map(str, folders))}; "
                     "copy the run's benchmarks.json into its results folder")


def asv_table(conf, first, second, selection, factor, machine):
    """asv's own comparison table (`asv compare`'s) of two results, as it prints it."""
    table = io.StringIO()
    with contextlib.redirect_stdout(table):
        Compare.print_table(conf, first.commit_hash, second.commit_hash, factor=factor, split=False,
                            resultset_1=resultset(first, selection),
                            resultset_2=resultset(second, selection, env_name=first.env_name),
                            machine=machine, sort="ratio")
    return table.getvalue()


def asv_verdicts(table):
    """(how many figures asv's table marks changed, + or -: beyond the factor and significant by its
    test; how many more it shows beyond the factor as ~, a change its test does not find significant;
    how many failed in one run only, ! or *). `asv compare` counts the first and the last as changed;
    this tool's exit code counts the first two."""
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table.splitlines()
            if line.startswith("| ")]
    return (sum(row[0] in ("+", "-") for row in rows),
            sum(len(row) > 3 and row[3].startswith("~") for row in rows),
            sum(row[0] in ("!", "*") for row in rows))


def factor_above_one(text):
    """--factor: a finite number above 1, the largest change accepted (1.1: 10 %); beyond inf, nothing moves."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 1):
        raise argparse.ArgumentTypeError(f"{text!r} is no factor of change: give a number above 1, e.g. 1.1 for 10 %")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.stability", description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="asv results folder of the first run")
    parser.add_argument("after", help="asv results folder of the second run")
    parser.add_argument("--machine", required=True)
    parser.add_argument("--release", help="MLX release (default: the newest with results in each)")
    parser.add_argument("--factor", type=factor_above_one, default=1.1, help="largest change accepted (default: 1.1)")
    parser.add_argument("--backends", default=",".join(BACKEND_NAMES),
                        help="compare the figures of these backends only (comma-separated; default: all)")
    parser.add_argument("--dtypes", default=",".join(DTYPES),
                        help="compare the figures of these dtypes only (comma-separated; default: all)")
    parser.add_argument("--bench", default="", help="compare the benchmarks whose name matches this regular "
                                                    "expression only (default: all)")
    add_gpu_rounds(parser, OpBenchmark.gpu_rounds)
    parser.add_argument("--output", help="also write the comparison to this file")
    args = parser.parse_args(argv)
    agreed = []

    def comparison():
        try:
            selection = Selection(args.backends, args.dtypes, args.bench)
        except MergeError as error:
            raise TableError(str(error)) from None
        first, second = (pick_result(load_results(folder, args.machine)[args.machine], args.machine, args.release)
                         for folder in (args.before, args.after))
        conf = Config.load(str(ROOT / "asv.conf.json"))
        conf.results_dir = str(benchmark_list_folder(args.before, args.after))
        text, ok = summary(changes(first, second, selection, args.gpu_rounds), args.factor, args.gpu_rounds)
        warming = [(name, found) for name, found in (("first", first_samples(first, selection)),
                                                        ("second", first_samples(second, selection)))
                   if found]
        if warming:
            text += ("\nA process's first samples over the median of its others (asv's timing path warming "
                     f"up; `warmup_time` in benchmarks/common.py):\n\n{first_samples_table(warming)}\n")
        if first.env_name != second.env_name:
            text += (f"\nThe runs come from two environments ({first.env_name}, {second.env_name}); asv's table "
                     "pairs their figures under the first's name.\n")
        agreed.append(ok)
        table = asv_table(conf, first, second, selection, args.factor, args.machine)
        changed, insignificant, failed_once = asv_verdicts(table)
        failures = f"; {failed_once} failed in one run only (! or *)" if failed_once else ""
        return (f"{table}\nasv's table marks {changed} changed (beyond x{args.factor} and significant by its test: + "
                f"or -); {insignificant} more moved beyond x{args.factor} that its test does not find significant "
                f"(~){failures}.\n{text}")

    code = emit(comparison, args.output)
    return code or (0 if agreed and agreed[0] else 1)


if __name__ == "__main__":
    sys.exit(main())
