"""Speedup tables from asv's results, in the reference table's format.

    python -m tools.speedup_table [--machine NAME] [--release VERSION | --commit HASH] [--dtype float32]
                                  [--style speedup|ratio] [--format markdown|csv|json] [--output FILE]
                                  [--metric latency|throughput|bandwidth|flops|memory]

Milliseconds per backend, then how much faster mlx_gpu is than the GPU baseline (mps on Apple
silicon, cuda on NVIDIA) and than mlx_cpu. `speedup` (the reference table's) is
(baseline - mlx_gpu) / baseline: above 0 MLX's GPU is faster, 0.50 means it takes half the
time. `ratio` is baseline / mlx_gpu: above 1 MLX's GPU is faster. The roofline metrics (GB/s,
TFLOP/s) and memory (peak MB per call) have no speedup columns.
"""

import argparse
import collections
import csv
import datetime
import io
import itertools
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path

from asv import util as asv_util
from asv.machine import Machine
from asv.results import Results, iter_results_paths
from tabulate import tabulate

from benchmarks.common import BACK_TO_BACK, DTYPES, PRECISIONS, WITHOUT_TF32, Case, op_families
from benchmarks.known_failures import KNOWN_FAILURES, looser_rounding
from tools import figure_dates, timeline

RESULTS = timeline.ROOT / "results"
MS_COLUMNS = ("mlx_gpu", "mlx_cpu", "mps", "cpu")
COMPILED = "mlx_gpu_compile"  # a column on request (--compiled)


class TableError(Exception):
    """A user's mistake or a missing input: printed as one line."""


def benchmark_key(family, metric="latency"):
    method = "track_peak_memory" if metric == "memory" else f"time_{metric}"
    return f"{family.__module__.split('.', 1)[1]}.{family.__name__}.{method}"


def table_families():
    return [family for family in op_families() if family.in_tables]


def find_row(row, families=None):
    """(family, case label) of a row name as the tables print it: 'Family / case label'."""
    name, _, label = row.partition(" / ")
    for family in families or op_families():
        if family.__name__ == name and label in family.cases:
            return family, label
    raise TableError(f"no case {row!r}; write it as the tables do, e.g. 'Softmax / dim=64x1000000 axi=-1'")


def load_results(results_dir, machine=None):
    """{machine: [Results]}, read with asv's loader; a file asv cannot read is an error."""
    if not Path(results_dir).is_dir():
        raise TableError(f"no results folder {results_dir}; run `make bench` first")
    _check_machine_files(results_dir)
    by_machine = {}
    for root, filename, machine_name in iter_results_paths(str(results_dir)):
        path = os.path.join(root, filename)
        try:
            result = Results.load(path, machine_name=machine_name)
            result.commit_hash[:8]  # asv's loader takes valid JSON of another shape; reading it would fail
            for key in result.get_all_result_keys():
                result.get_result_value(key, result.get_result_params(key))
            if not all(isinstance(started, (int, float)) for started in result.started_at.values()):
                raise ValueError("a benchmark's start is not asv's milliseconds")
        except (asv_util.UserError, OSError, TypeError, ValueError, KeyError, AttributeError) as error:
            raise TableError(f"{path} is not an asv result file ({error_reason(error)}); move it out of {results_dir}")
        by_machine.setdefault(machine_name, []).append(result)
    if not by_machine:
        raise TableError(f"no asv results in {results_dir}; run `make bench` first")
    if machine is not None:
        if machine not in by_machine:
            known = ", ".join(sorted(by_machine))
            raise TableError(f"no results for machine {machine!r}; machines with results: {known}")
        by_machine = {machine: by_machine[machine]}
    return by_machine


def _check_machine_files(results_dir):
    """TableError where result files lie beside no readable machine.json: asv skips them with a warning,
    and the table would blame the results instead."""
    for root, _, files in os.walk(results_dir):
        if any(name.endswith(".json") and name not in ("machine.json", "benchmarks.json") for name in files):
            path = os.path.join(root, "machine.json")
            try:
                machine_named_in(path)
            except (OSError, asv_util.UserError) as error:
                raise TableError(f"{path} cannot be read ({error_reason(error)}), so asv skips the results beside it; "
                                 "restore it (git checkout) or run `make bench` on that machine again")


def machine_named_in(path):
    """The machine a machine.json names; asv's UserError where it names none."""
    name = asv_util.load_json(str(path), api_version=Machine.api_version).get("machine")
    if not isinstance(name, str):
        raise asv_util.UserError("it names no machine")
    return name


def error_reason(error):
    """What went wrong, in one line: the system's word for an OSError, else the error's own first line."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return (str(error).splitlines() or [type(error).__name__])[0]


def pick_result(results, machine, release=None, commit=None):
    """The result for a release or commit (default: the newest release with results); of several
    environments' results for it, the one that ran last."""
    versions = {hash_: version for version, hash_ in timeline.build().items()}
    if release is not None:
        wanted = [r for r in results if r.params.get("mlx") == release or versions.get(r.commit_hash) == release]
        label = f"mlx {release}"
    elif commit is not None:
        wanted = [r for r in results if r.commit_hash.startswith(commit)]
        label = f"commit {commit}"
    else:
        order = list(versions)
        return max(results, key=lambda r: (order.index(r.commit_hash) if r.commit_hash in order else -1, *_newest(r)))
    if not wanted:
        have = sorted({r.params.get("mlx") or r.commit_hash[:8] for r in results})
        raise TableError(f"no results for {label} on machine {machine!r}; it has results for: {', '.join(have)}")
    return max(wanted, key=_newest)


def _newest(result):
    """Order of results of one machine: commit date, then (environments of one commit: `make bench`'s
    own and asv's virtualenvs) when their newest benchmark ran."""
    return result.date or 0, max(result.started_at.values(), default=0)


# The first line `make bench` writes to a run's log: a log's own date, which a clone does not change
# as it does the file's modification time.
_LOG_STARTED = re.compile(r"^# make bench: asv run started (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)$")


def log_header(seconds):
    """The line that heads a run's log: when it started, `seconds` since the epoch."""
    started = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"# make bench: asv run started {started}\n"


def run_logs(results_dir, machine, commit):
    """The logs of `machine`'s runs of `commit`, oldest first: those that say when they started, by that;
    before them, logs of an older `make bench` that do not, by modification time (in a fresh clone
    that is the checkout's order)."""
    def started(log):
        with open(log, errors="replace") as text:
            match = _LOG_STARTED.match(text.readline().rstrip("\n"))
        return (1, match[1], "") if match else (0, os.path.getmtime(log), log.name)

    return sorted(Path(results_dir, machine).glob(f"{commit[:8]}-*.log"), key=started)


_BENCHMARK_LINE = re.compile(r"··· (\S+)\s")
_PARAMETERS_LINE = re.compile(r"^\s*For parameters: ('.*')\s*$")
_ASV_EXIT_STATUS = "asv: benchmark failed (exit status"


def failure_reasons(log_path):
    """{(benchmark, case, backend, precision, dtype): last line of what the failing process printed}, from
    the run log (precision None for families without one, as `modes_of` gives them)."""
    reasons, key, lines = {}, None, []

    def close():
        text = [line.strip() for line in lines if line.strip()]
        if key and text and not any("asv: skipped" in line for line in text):
            # asv ends a failed process's output with its exit status: the process's own last line says why
            said = [line for line in text if not line.startswith(_ASV_EXIT_STATUS)]
            reasons[key] = (said or text)[-1]

    benchmark = None
    for line in Path(log_path).read_text(errors="replace").splitlines() if Path(log_path).exists() else []:
        match = _PARAMETERS_LINE.match(line)
        if match:
            close()
            case, backend, *rest = re.findall(r"'([^']*)'", match[1])
            key, lines = (benchmark, case, backend, *modes_of(rest)), []
        elif (bench := _BENCHMARK_LINE.search(line)) and (".time_" in bench[1] or ".track_" in bench[1]):
            close()
            benchmark, key, lines = bench[1], None, []
        elif key:
            lines.append(line)
    close()
    return reasons


def cell_values(result, family, precision="strict", metric="latency", dtype="float32", samples=False, stats=False,
                days=None):
    """{(case label, backend): seconds per call, NaN for skipped, None for failed}; absent if not run.
    With `samples`, asv's samples of each cell instead (None where it kept none); with `stats`, asv's
    statistics of each cell (a dict, empty where there are none: `repeat` is how many samples); with
    `days` ({(benchmark, parameters): day}, `figure_dates.of_result`), the day of each (None: unknown).

    Families with a precision parameter give the values of `precision`; the others have one mode.
    Backends without TF32 on any machine (CPUs, mps) give their strict (float32) values in `tf32`.
    Those with a dtype parameter give the values of `dtype`; results without one (written before it
    existed, or of a float32-only family) are float32. `throughput` figures are asv's time for
    BACK_TO_BACK calls, divided by it.
    """
    key = benchmark_key(family, metric)
    if key not in result.get_all_result_keys():
        return {}
    params = result.get_result_params(key)
    cells = {}
    read = (result.get_result_samples if samples else result.get_result_stats if stats else result.get_result_value)
    if days is not None:
        def read(name, params):
            return [days.get((name, figure_dates.parameters(combo))) for combo in itertools.product(*params)]
    for combo, value in zip(itertools.product(*params), read(key, params)):
        case, backend, *rest = (value_repr.strip("'") for value_repr in combo)
        given_precision, given_dtype = modes_of(rest)
        wanted = "strict" if backend in WITHOUT_TF32 else precision
        if given_precision in (None, wanted) and given_dtype == dtype:
            per_call = metric == "throughput" and not (samples or stats or days is not None) and _measured(value)
            cells[(case, backend)] = value / BACK_TO_BACK if per_call else value
    return cells



def modes_of(values):
    """(precision, dtype) among the parameter values after case and backend, told apart by value (a
    family has either, both or neither): precision None for a family without precision modes, dtype
    float32 where there is none (results written before the dtype parameter, float32-only families)."""
    return (next((value for value in values if value in PRECISIONS), None),
            next((value for value in values if value in DTYPES), "float32"))


def speedup(baseline, mlx_gpu, style):
    if not _measured(baseline) or not _measured(mlx_gpu):
        return None
    return baseline / mlx_gpu if style == "ratio" else (baseline - mlx_gpu) / baseline


def _measured(value):
    return value is not None and not math.isnan(value)


def machine_rows(result, reasons, style, precision, metric="latency", compiled=False, dtype="float32", days=None):
    """Rows of one machine's table: dicts with the row name, per-backend cells and the speedups; with
    `compiled`, mlx_gpu_compile's cells and the GPU baseline's speedup over it too; the day of each
    cell measured, where `days` (`figure_dates.of_result`) has it."""
    rows, gpu_baseline = [], "cuda" if _has_data(result, "cuda", dtype) else "mps"
    measured = "latency" if metric in ROOFLINE else metric
    for family in table_families():
        values = cell_values(result, family, precision, measured, dtype)
        cell_days = cell_values(result, family, precision, measured, dtype, days=days or {})
        single = _single_samples(result, family, precision, measured, dtype, values) if metric != "memory" else set()
        if metric in ROOFLINE:
            values = rates(values, family, metric)
        elif metric == "memory":
            values = {key: bytes_ / MEGABYTE if _measured(bytes_) else bytes_ for key, bytes_ in values.items()}
        for label in family.cases:
            row = {"row": f"{family.__name__} / {label}", "cells": {}, "notes": {}, "remarks": {}, "days": {}}
            for backend in (*MS_COLUMNS, "cuda", *(COMPILED,) * compiled):
                value = values.get((label, backend), "not run")
                row["cells"][backend] = value
                if _measured(_num(values.get((label, backend)))):  # a failure's record is its first day's
                    row["days"][backend] = cell_days.get((label, backend))
                if value is None:
                    row["notes"][backend] = _failure_note(reasons, family, label, backend, result, precision,
                                                          measured, dtype)
                elif (label, backend) in single:
                    row["remarks"][backend] = ONE_SAMPLE
                elif _measured(_num(value)) and gpu_baseline == "cuda":
                    remark = _rounding_remark(family, backend, result, dtype)
                    if remark:
                        row["remarks"][backend] = remark
            timed = metric in TIME_METRICS  # a speedup is a ratio of times
            ms = {backend: _num(value) for backend, value in row["cells"].items()}
            row["gpu_speedup"] = speedup(ms[gpu_baseline], ms["mlx_gpu"], style) if timed else None
            row["cpu_speedup"] = speedup(ms["mlx_cpu"], ms["mlx_gpu"], style) if timed else None
            if compiled:
                row["compiled_speedup"] = speedup(ms[gpu_baseline], ms[COMPILED], style) if timed else None
            rows.append(row)
    return rows, gpu_baseline


def _num(value):
    return value if isinstance(value, float) else None


def _has_data(result, backend, dtype="float32"):
    return any(_measured(_num(v)) for family in table_families()
               for (_, b), v in cell_values(result, family, dtype=dtype).items() if b == backend)


ONE_SAMPLE = ("one sample (asv's --quick): says the case runs, not how fast; on the H100 such figures of "
              "the floor came 3 and 8 times the full ones")
# asv takes one sample of a case of its own accord only when the call outlasts most of `repeat`'s 3 s.
ONE_SAMPLE_BELOW_S = 1.0


def _single_samples(result, family, precision, metric, dtype, seconds):
    """{(case label, backend)} of the cells timed from one sample though they take under
    ONE_SAMPLE_BELOW_S: a run with asv's --quick, whose figure is a process's first, cold call."""
    stats = cell_values(result, family, precision, metric, dtype, stats=True)
    return {cell for cell, found in stats.items()
            if found and found.get("repeat") == 1 and _measured(seconds.get(cell))
            and seconds[cell] < ONE_SAMPLE_BELOW_S}


def _rounding_remark(family, backend, result, dtype):
    """What a reader of a half-dtype figure of MLX on CUDA (a machine with torch's cuda figures) must
    know when MLX's op there rounds more than torch's (LOOSER_ROUNDING), or None."""
    entry = looser_rounding(family.__name__, backend, result.params.get("mlx"), "cuda", dtype)
    return entry and (f"same bytes, less accurate: {entry.reason} "
                      f"(up to {entry.epsilons} of {dtype}'s epsilons off float64)")


def _failure_note(reasons, family, label, backend, result, precision, metric, dtype="float32"):
    reason = reasons.get((benchmark_key(family, metric), label, backend,
                          precision if family.uses_matrix_units else None, dtype))
    case = (f"{family.__name__} / {label}", backend.removesuffix("_compile"))
    known = [f for f in KNOWN_FAILURES if (f.row, f.backend) == case
             and result.params.get("mlx") in f.mlx_versions and f.precision in ("any", precision)
             and f.dtype in ("any", dtype)]
    if known:
        reason = f"known upstream failure: {known[0].reason}" + (f" (this run: {reason})" if reason else "")
    return reason or "failed; asv kept no reason (see the run log)"


PRECISION_NOTES = {
    "strict": "float32 (strict: no TF32 anywhere)",
    "tf32": "tf32 mode: MatMul, Linear and convolutions may multiply in TF32 on CUDA; all else float32 "
            "(CPUs and mps have no TF32: their float32 figures)",
}


def dtype_note(dtype, precision):
    if dtype == "float32":
        return PRECISION_NOTES[precision]
    return f"{dtype}: inputs and results in {dtype} on both frameworks (families without {dtype}: not run)"


METRIC_NOTES = {
    "latency": "latency (one synchronisation per call)",
    "throughput": f"throughput (GPU: {BACK_TO_BACK} calls back to back, one synchronisation; per call)",
    "bandwidth": "achieved GB/s: the bytes a case must move (each input read once, the result written once) "
                 "over its latency",
    "flops": "achieved TFLOP/s: the floating-point operations a case must do over its latency",
    "memory": "peak memory in MB (10^6 bytes): the most one synchronised call holds beyond what was held before "
              "it, in steady state (MLX's and torch cuda's allocator peaks, torch cpu's resident high-water mark; "
              "mps keeps no peak: n/a)",
}
TIME_METRICS = ("latency", "throughput")  # what asv times; the roofline metrics are worked out from latency
MEGABYTE = 1e6  # asv records memory in bytes
ROOFLINE = {"bandwidth": ("bytes_moved", 1e9), "flops": ("flops", 1e12)}  # the family's method, unit


MEASURED_WHERE = {"throughput": "throughput is measured on GPU backends only",
                  "memory": "memory is measured by `python -m tools.bench --memory` only"}


def rates(values, family, metric):
    """Latency cells as the achieved rate of a roofline metric; 'no work' where the family has none."""
    method, unit = ROOFLINE[metric]
    work_of = getattr(family(), method)
    achieved = {}
    for (label, backend), seconds in values.items():
        work = work_of(Case.parse(label))
        if work is None:
            achieved[(label, backend)] = "no work"
        else:
            achieved[(label, backend)] = work / seconds / unit if _measured(_num(seconds)) else seconds
    return achieved


def ceiling(ceilings, backend, metric, precision):
    """The backend's ceiling for the metric in that precision mode (TF32 matmul where it has one), or None."""
    limits = ceilings.get(backend, {})
    if metric == "flops" and precision == "tf32":
        return limits.get("flops_tf32", limits.get("flops"))
    return limits.get(metric)


CEILINGS_FILE = "ceilings.txt"


def load_ceilings(results_dir, machine):
    """{backend: {"bandwidth": GB/s, "flops": TFLOP/s, ...}} measured by tools/ceilings.py, or {}."""
    path = Path(results_dir, machine, CEILINGS_FILE)
    found = {}
    for number, line in enumerate(path.read_text().splitlines() if path.exists() else [], 1):
        if line.strip() and not line.startswith("#"):
            try:
                backend, key, value = line.split()
                found.setdefault(backend, {})[key] = float(value)
            except ValueError:
                raise TableError(f"{path}:{number}: expected 'BACKEND CEILING VALUE', got {line!r}; mend the "
                                 f"line, restore it (git checkout -- {path}) or delete it and run "
                                 "python -m tools.ceilings")
    return found


def floor_note(result):
    """The synchronised one-element op per backend, if it was measured: the floor under small cases."""
    floors = [family for family in op_families() if family.__name__ == "Floor"]
    values = cell_values(result, floors[0]) if floors else {}
    measured = [f"{backend} {value * 1e3:.3f}" for (_, backend), value in values.items() if _measured(_num(value))]
    return f"floor (synchronised one-element op, ms): {', '.join(measured)}" if measured else ""


def days_note(rows, columns):
    """(the header's words on when the table's figures were measured, a line under the table naming
    each column's days where they differ, or ""); ("", "") where no figure has a recorded day."""
    per_column = {backend: collections.Counter(row["days"][backend] for row in rows if backend in row["days"])
                  for backend in columns}
    known = sorted({day for counts in per_column.values() for day in counts if day})
    if not known:
        return "", ""
    unknown = sum(counts[None] for counts in per_column.values())
    words = f"measured {known[0]}" + (f" to {known[-1]}" if len(known) > 1 else "")
    words += f" ({unknown} figures of no recorded day)" if unknown else ""
    if len(known) == 1:
        return words, ""
    def days_of(counts):  # a column's days, each with its count where it has several
        named = sorted((day or "no recorded day", count) for day, count in counts.items())
        return ", ".join(day if len(named) == 1 else f"{day} ({count})" for day, count in named)

    columns_days = "; ".join(f"{backend} {days_of(counts)}" for backend, counts in per_column.items() if counts)
    return words, f"Measured (UTC days): {columns_days}"


def header(machine, result, precision, metric="latency", ceilings=None, dtype="float32", measured=""):
    p = result.params
    limits = ", ".join(f"{backend} {ceiling(ceilings, backend, metric, precision):.4g}" for backend in ceilings or {}
                       if ceiling(ceilings, backend, metric, precision))
    words = [f"{machine}: MLX {p.get('mlx', '?')}, torch {p.get('torch', '?')}, Python {p.get('python', '?')}",
             dtype_note(dtype, precision), METRIC_NOTES[metric], floor_note(result) if metric != "memory" else "",
             f"ceilings (tools/ceilings.py): {limits}; in brackets the share of it reached" if limits else "",
             measured]
    return "; ".join(word for word in words if word)


def render_markdown(sections, style, precision, metric, dtype="float32"):
    out = []
    for machine, result, rows, baseline, ceilings in sections:
        footnotes = []
        columns = [c for c in MS_COLUMNS if c != "mps" or baseline == "mps"] + (["cuda"] if baseline == "cuda" else [])
        compiled = bool(rows) and "compiled_speedup" in rows[0]
        if compiled:
            columns.insert(1, COMPILED)
        word = "ratio" if style == "ratio" else "speedup"
        table = []
        for row in rows:
            line = [row["row"]]
            for backend in columns:
                value = row["cells"][backend]
                if backend in row["notes"]:
                    footnotes.append(row["notes"][backend])
                    line.append(f"failed [{len(footnotes)}]")
                else:
                    cell = _format_cell(value, metric, ceiling(ceilings, backend, metric, precision))
                    if backend in row["remarks"]:  # one footnote for a remark that recurs
                        if row["remarks"][backend] not in footnotes:
                            footnotes.append(row["remarks"][backend])
                        cell += f" [{footnotes.index(row['remarks'][backend]) + 1}]"
                    line.append(cell)
            if metric in TIME_METRICS:
                line += [_format_speedup(row["gpu_speedup"]), _format_speedup(row["cpu_speedup"])]
                if compiled:
                    line.append(_format_speedup(row["compiled_speedup"]))
            table.append(line)
        head = ["Operation", *columns]
        if metric in TIME_METRICS:
            head += [f"{baseline}/mlx_gpu {word}", f"mlx_cpu/mlx_gpu {word}"]
            head += [f"{baseline}/{COMPILED} {word}"] * compiled
        measured, by_column = days_note(rows, columns)
        out.append(f"**{header(machine, result, precision, metric, ceilings, dtype, measured)}**\n")
        out.append(tabulate(table, head, tablefmt="github", disable_numparse=True,
                            colalign=("left",) + ("right",) * (len(head) - 1)))
        if footnotes:
            out.append("\n" + "\n".join(f"[{i}] {note}" for i, note in enumerate(footnotes, 1)))
        if by_column:
            out.append("\n" + by_column)
        out.append("")
    return "\n".join(out)


def _format_ms(value):
    if isinstance(value, str):
        return value
    if value is None:
        return "failed"
    return "n/a" if math.isnan(value) else f"{value * 1e3:.2f}"


def _format_cell(value, metric, limit=None):
    """A cell: milliseconds; for a roofline metric the achieved rate and its share of the ceiling; MB."""
    if metric in TIME_METRICS or not _measured(_num(value)):
        return _format_ms(value)
    figure = f"{value:.0f}" if value >= 100 else f"{value:.3g}"
    return figure + (f" ({value / limit:.0%})" if limit else "")


def _format_speedup(value):
    return "n/a" if value is None else f"{value:.2f}"


def flat_rows(sections, style, precision, metric, dtype="float32"):
    unit = {"bandwidth": "gbs", "flops": "tflops", "memory": "mb"}.get(metric, "ms")
    for machine, result, rows, baseline, ceilings in sections:
        for row in rows:
            record = {"machine": machine, "mlx": result.params.get("mlx"), "torch": result.params.get("torch"),
                      "precision": precision, "dtype": dtype, "metric": metric, "row": row["row"]}
            for backend, value in row["cells"].items():
                record[f"{backend}_{unit}"] = _format_cell(value, metric)
                record[f"{backend}_measured"] = row["days"].get(backend) or ""
            record[f"{baseline}_vs_mlx_gpu_{style}"] = _format_speedup(row["gpu_speedup"])
            record[f"mlx_cpu_vs_mlx_gpu_{style}"] = _format_speedup(row["cpu_speedup"])
            if "compiled_speedup" in row:
                record[f"{baseline}_vs_{COMPILED}_{style}"] = _format_speedup(row["compiled_speedup"])
            record["failures"] = "; ".join(f"{b}: {n}" for b, n in row["notes"].items())
            record["remarks"] = "; ".join(f"{b}: {n}" for b, n in row["remarks"].items())
            yield record


def render(sections, style, fmt, precision, metric="latency", dtype="float32"):
    if fmt == "markdown":
        return render_markdown(sections, style, precision, metric, dtype)
    records = list(flat_rows(sections, style, precision, metric, dtype))
    if fmt == "json":
        return json.dumps(records, indent=1) + "\n"
    buffer = io.StringIO()
    # machines differ in their columns (a cuda or an mps baseline): a column per field any row has
    writer = csv.DictWriter(buffer, fieldnames=list(dict.fromkeys(key for record in records for key in record)))
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def emit(make_text, output=None):
    """Print what `make_text()` returns and write it to `output`; a user's mistake is one line, exit 1.
    `output` is checked first: a measurement of minutes (tools.fidelity) must not end on a bad path."""
    try:
        check_writable(output)
        text = make_text()
        sys.stdout.write(text)
        if output:
            write_atomically(output, text)
    except (TableError, timeline.TimelineError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def check_writable(path, folder=False):
    """TableError unless `path` can be written: a file (or with `folder`, a folder, made if missing)."""
    if path is None:
        return
    path = Path(path)
    if folder and not path.is_dir():
        if path.exists():
            raise TableError(f"{path} is a file, not a folder; name a folder for the pictures")
        path = path.parent
        while not path.exists() and path != path.parent:  # the nearest folder that exists is written in
            path = path.parent
    elif not folder:
        if path.is_dir():
            raise TableError(f"{path} is a folder; name a file to write, e.g. {path / 'table.md'}")
        if not path.parent.is_dir():
            raise TableError(f"no folder {path.parent} to write {path.name} in; create it or name another path")
        path = path.parent
    if not os.access(path, os.W_OK):
        raise TableError(f"cannot write in {path} (permission denied); name another path")


def write_atomically(path, content):
    """`content` (text or bytes) at `path`, whole or not at all; TableError if it cannot be written."""
    path = Path(path)
    mode = "wb" if isinstance(content, bytes) else "w"
    try:
        with tempfile.NamedTemporaryFile(mode, dir=path.parent, delete=False, suffix=".tmp") as tmp:
            try:
                tmp.write(content)
                tmp.close()
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp.name, 0o666 & ~umask)  # a temporary file is private; the result is an ordinary file
                os.replace(tmp.name, path)
            finally:
                Path(tmp.name).unlink(missing_ok=True)
    except OSError as error:
        raise TableError(f"cannot write {path} ({error.strerror}); name another path")


def check_modes(dtype, precision):
    """A TableError for a mode no figure has: else its figures would read as missing results."""
    if dtype != "float32" and precision == "tf32":
        raise TableError(f"tf32 is a float32 mode (TF32 multiplies float32): no {dtype} figure has it; "
                         "use --precision strict")


def build_sections(results_dir, machine, release, commit, style, precision, metric="latency", compiled=False,
                   dtype="float32"):
    check_modes(dtype, precision)
    if dtype != "float32" and metric in ROOFLINE:
        raise TableError(f"--metric {metric} counts float32 bytes and float32 ceilings: use it with --dtype float32")
    sections, lacking = [], []
    for name, results in sorted(load_results(results_dir, machine).items()):
        result = pick_result(results, name, release, commit)
        reasons = {}
        for log in run_logs(results_dir, name, result.commit_hash):
            reasons.update(failure_reasons(log))  # the newest run's reason wins
        try:
            days = figure_dates.of_result(results_dir, name, result)
        except figure_dates.DatesError as error:
            raise TableError(str(error)) from None
        rows, baseline = machine_rows(result, reasons, style, precision, metric, compiled, dtype, days)
        if not any(isinstance(v, float) and not math.isnan(v) for row in rows for v in row["cells"].values()):
            where = [MEASURED_WHERE[metric]] if metric in MEASURED_WHERE else []
            where += ["dtypes other than float32 only where MLXBENCH_DTYPES asked for them"] * (dtype != "float32")
            lacking.append(f"the results of {name} for {result.commit_hash[:8]} have no {dtype} {metric} figure "
                           f"of a case of the suite" + (f" ({'; '.join(where)})" if where else ""))
            continue
        sections.append((name, result, rows, baseline, load_ceilings(results_dir, name) if metric in ROOFLINE else {}))
    if lacking and (machine or not sections):
        raise TableError(lacking[0])
    for reason in lacking:  # every machine asked for: those that have the figures make the table
        print(f"note: {reason}; that machine is left out", file=sys.stderr)
    return sections


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.speedup_table", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=str(RESULTS), help="asv results folder (default: results/)")
    parser.add_argument("--machine", help="one machine (default: every machine, a section each)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--release", help="MLX release, e.g. 0.32.4 (default: the newest with results)")
    which.add_argument("--commit", help="timeline commit hash or prefix")
    parser.add_argument("--style", choices=("speedup", "ratio"), default="speedup")
    parser.add_argument("--precision", choices=PRECISIONS, default="strict",
                        help="for MatMul, Linear and convolutions: strict float32 or tf32 (default: strict)")
    parser.add_argument("--dtype", choices=DTYPES, default="float32",
                        help="the dtype the cases ran in (default: float32, the reference table's)")
    parser.add_argument("--metric", choices=tuple(METRIC_NOTES), default="latency",
                        help="latency: one synchronisation per call (the reference table's); throughput: back to back; "
                             "bandwidth, flops: the roofline, from latency; memory: peak MB per call "
                             "(measured by `python -m tools.bench --memory` only)")
    parser.add_argument("--compiled", action="store_true",
                        help=f"add {COMPILED} (MLX's op wrapped in mx.compile) and the GPU baseline's speedup over it")
    parser.add_argument("--format", choices=("markdown", "csv", "json"), default="markdown")
    parser.add_argument("--output", help="also write the table to this file")
    args = parser.parse_args(argv)

    def table():
        sections = build_sections(args.results, args.machine, args.release, args.commit, args.style, args.precision,
                                  args.metric, args.compiled, args.dtype)
        return render(sections, args.style, args.format, args.precision, args.metric, args.dtype)

    return emit(table, args.output)


if __name__ == "__main__":
    sys.exit(main())
