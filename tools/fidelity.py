"""Does asv's figure hold up against the device's own clock? For each case on the GPU backends, the
benchmark's own timed method is called again as asv calls it (its setup before each call) with
device events around each call (many calls, median), and printed beside asv's median for it.

    python -m tools.fidelity --machine h100-sxm-80gb [--release 0.32.4] [--all] [--events driver] [--output FILE]

Run it on the machine whose results it reads, after `make bench`. Each case, backend and precision
mode runs in a process of its own, forked as asv forks each case (a case that kills its process takes
nothing else with it; and a case's time depends on what its process ran before: MatMul `1000x64x1024`
timed 0.35-0.43 ms by events after its family's other cases in one process; alone, with the events
recorded, 0.27 by the host's clock; H100, two leases), in as many passes as asv's figure came from
(`OpBenchmark.gpu_rounds`), each pass forking from a new interpreter as each of asv's runs forks from
a forkserver of its own: a GPU call's time depends on its process, so one process against asv's
median over several would compare the processes, not the clocks. Cases listed in
benchmarks/known_failures.py are not run.
The goal: asv/events within 5 % for every case of 0.2 ms or more. It checks the float32 figures, of
those cases and the floor; --all measures the faster cases too. Beside each pooled figure it prints
the lowest and highest of its processes' own medians, and a case off by no more than they differ says
so: that is the process, not the timer (the host clock on the same calls is the timer's check). Each
process says on stderr what it measured, as it ends.
A SIGTERM (a time limit's) ends the pass under way and reports the passes done, saying how many.
The events are torch's by default. torch's CUDA and its events inside MLX's process slow MLX's calls
(docs/timing-checks.md), so `--events driver` takes them from the CUDA driver itself
(tools/cuda_events.py) and leaves torch's CUDA unstarted in MLX's processes; CUDA only.
"""

import argparse
import importlib.metadata
import itertools
import math
import signal
import statistics
import sys
import time

from tabulate import tabulate

from benchmarks.common import (BACKENDS, GPU_BACKENDS, OpBenchmark, PRECISIONS, op_families, selected_backends, torch,
                               verified_backend)
from benchmarks.known_failures import known_failure, mlx_gpu_platform
from tools import cpu_wakeup, cuda_events
from tools.forked import forked
from tools.options import microseconds
from tools.speedup_table import (RESULTS, TableError, _measured, _num, cell_values, emit, load_results,
                                 pick_result)
from tools.stability import spread

GOAL = 0.05  # asv/events may differ by this much
MIN_MS = 0.2  # for cases that take at least this long
WARMUP_S = 0.3
MIN_CALLS, MAX_CALLS, BUDGET_S = 20, 100, 0.4  # per process
ASV_SAMPLES = OpBenchmark.repeat[1]  # the most samples asv takes of a case, per process
PROCESSES = OpBenchmark.gpu_rounds
CALL_LISTS = ("events", "host", "first")  # a record's per-call times (ms) until its processes are pooled


INSTRUMENTS = ("torch", "driver")  # whose device events: torch's, or the CUDA driver's own (tools/cuda_events.py)
INSTRUMENT_NAMES = {"torch": "torch's", "driver": "the CUDA driver's"}


def events_for(backend, instrument="torch"):
    """(start, end, stream): two events on the device the backend's call runs on, and the stream to
    record them in. On CUDA that is a stream of their own, which waits for nothing: recorded in the
    legacy default stream, the events would wait for (and hold up) MLX's streams. `instrument`
    "driver" takes them from the CUDA driver, leaving torch's CUDA unstarted in MLX's process."""
    on_apple = backend.device == "mps" or (backend.framework == "mlx" and mlx_gpu_platform() == "metal")
    if instrument == "driver":
        if on_apple:
            raise NotImplementedError("the CUDA driver's events time CUDA only: on an Apple GPU use --events torch")
        return cuda_events.Event(), cuda_events.Event(), cuda_events.Stream()
    if on_apple:
        return torch.mps.event.Event(enable_timing=True), torch.mps.event.Event(enable_timing=True), None
    return torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True), torch.cuda.Stream()


def recorder(stream):
    """How to record an event: in `stream` where there is one (CUDA), else after the device's work (MPS)."""
    return (lambda event: event.record()) if stream is None else (lambda event: event.record(stream))


def time_with_events(bench, params, events):
    """(ms by device events, ms by the host's clock, ms by device events of the first calls), a list
    per call, of the benchmark's own timed method, in asv's rhythm: its `setup` before every
    call and `teardown` after, outside the events. The first calls are those asv's samples would be:
    as many as its `repeat` allows, right after the case's own warm-up; the others follow WARMUP_S
    more of calls. Where the two medians differ, the warm-up is too short."""
    start, end, stream = events
    record = recorder(stream)
    device_ms, host_ms, first_ms = [], [], []
    bench.setup(*params)  # inputs, first call: the warm-up starts after them
    bench.teardown(*params)
    warm_until = time.perf_counter() + WARMUP_S
    stop_at = warm_until + BUDGET_S
    while len(device_ms) < MAX_CALLS and (len(device_ms) < MIN_CALLS or time.perf_counter() < stop_at):
        bench.setup(*params)
        t0 = time.perf_counter()
        record(start)
        bench.time_latency(*params)
        record(end)
        t1 = time.perf_counter()
        bench.teardown(*params)
        end.synchronize()
        if len(first_ms) < ASV_SAMPLES:
            first_ms.append(start.elapsed_time(end))
        if t0 >= warm_until:
            device_ms.append(start.elapsed_time(end))
            host_ms.append((t1 - t0) * 1e3)
    return device_ms, host_ms, first_ms


def measure_case(family_name, label, name, precision, instrument, send):
    """Send the record of one case on GPU backend `name` in `precision`, timed by `instrument`'s
    events (nothing where this machine cannot run that backend in that mode)."""
    family = next(f for f in op_families() if f.__name__ == family_name)
    bench = family()
    try:
        backend = verified_backend(name, precision)
    except NotImplementedError:
        return
    record = {"family": family_name, "case": label, "backend": name, "precision": precision}
    failure = known_failure(bench.row_name(label), name, importlib.metadata.version("mlx"),
                            mlx_gpu_platform() if backend.framework == "mlx" else name, precision)
    if failure:
        record["error"] = f"known failure, not run: {failure.reason}"
    else:
        try:
            params = (label, name, precision) if family.uses_matrix_units else (label, name)
            record["events"], record["host"], record["first"] = time_with_events(bench, params,
                                                                                  events_for(backend, instrument))
        except Exception as error:  # a failing case is a result
            record["error"] = f"{type(error).__name__}: {error}".splitlines()[0]
    send(record)


class Stopped(Exception):
    """A SIGTERM (a time limit's, as `timeout` sends) while the passes run."""


def _stopped(signum, frame):
    raise Stopped


def measure_all(wanted, instrument="torch"):
    """(a record per case with the medians of all its calls, the number of passes done): every case
    `wanted(key)` accepts, on every GPU backend in every mode it has, in PROCESSES passes over them
    all, each from a new interpreter (as asv's runs go). Stopped by SIGTERM, it ends the pass under way
    and pools the passes done, so a run cut by a time limit still reports what it measured."""
    passes = []
    previous = signal.signal(signal.SIGTERM, _stopped)
    try:
        for number in range(1, PROCESSES + 1):
            records, exitcode = forked(measure_once, number, wanted, instrument, fresh=True)
            if exitcode != 0:  # its families' own processes report their deaths; this is the pass's own
                print(f"fidelity: pass {number} of {PROCESSES} died (exit {exitcode}): the cases after its last "
                      "record come from fewer processes", file=sys.stderr, flush=True)
            passes.append(records)
    except Stopped:
        print(f"fidelity: stopped (SIGTERM) in pass {len(passes) + 1} of {PROCESSES}; the report pools the "
              f"{len(passes)} done", file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return pooled(passes), len(passes)


def pooled(passes):
    """One record per case from the passes' records of it: their calls together, summarised, and each
    process's own median by events (`levels`)."""
    together = {}
    for records in passes:
        for r in records:
            key = (r["family"], r["case"], r["backend"], r["precision"])
            kept = together.setdefault(key, {**r, **{calls: [] for calls in CALL_LISTS}, "levels": []})
            for calls in CALL_LISTS:
                kept[calls] += r.get(calls, [])
            if r.get("events"):
                kept["levels"].append(statistics.median(r["events"]))
            if "error" in r:
                kept["error"] = r["error"]
    return [summarised(r) for r in together.values()]


def summarised(record):
    """A record's calls as medians (ms): events_ms, host_ms, first_ms, and their number: calls; the
    lowest and highest of its processes' own medians: levels_ms. A case that failed in any process is
    its error."""
    events, host, first = (record.pop(calls) for calls in CALL_LISTS)
    levels = record.pop("levels")
    if events and "error" not in record:
        record.update(events_ms=statistics.median(events), host_ms=statistics.median(host),
                      first_ms=statistics.median(first), calls=len(events), levels_ms=(min(levels), max(levels)))
    return record


def inside_levels(asv_ms, levels_ms):
    """Whether asv's figure lies within GOAL of the span of the event processes' own levels: where a
    case is off only as far as separate processes differ (a GPU call's time depends on its process),
    the timer is not what differs."""
    low, high = levels_ms
    return low * (1 - GOAL) <= asv_ms <= high * (1 + GOAL)


def measure_once(number, wanted, instrument, send):
    """Pass `number`: every case on every GPU backend in every mode it has, each in a process of its
    own (one framework per process, as under asv); records sent in order. A case whose process dies
    is that error."""
    for family, name in itertools.product(op_families(), (n for n in GPU_BACKENDS if n in selected_backends())):
        for precision in PRECISIONS if family.uses_matrix_units else PRECISIONS[:1]:
            labels = [label for label in family.cases if wanted((family.__name__, label, name, precision))]
            if not labels:
                continue
            started, measured = time.perf_counter(), 0
            for label in labels:
                records, exitcode = forked(measure_case, family.__name__, label, name, precision, instrument)
                measured += len(records)
                if exitcode != 0 and not records:
                    records = [{"family": family.__name__, "case": label, "backend": name, "precision": precision,
                                "error": f"process died (exit {exitcode})"}]
                for record in records:
                    send(record)
            print(f"fidelity: pass {number} of {PROCESSES}: {family.__name__} on {name} ({precision}), "
                  f"{measured} measured in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


class Wanted:
    """Which cases to measure (a picklable predicate, for the passes' new interpreters): the floor
    always; with `figures` ({key: asv's ms}), only those asv put at MIN_MS or more."""

    def __init__(self, figures=None):
        self.keys = None if figures is None else {key for key, ms in figures.items() if ms >= MIN_MS}

    def __call__(self, key):
        return self.keys is None or key in self.keys or key[0] == "Floor"


def asv_figures(result):
    """{(family, case, backend, precision): asv's latency in ms} of one result."""
    figures = {}
    for family in op_families():
        for precision in PRECISIONS if family.uses_matrix_units else PRECISIONS[:1]:
            for (label, backend), value in cell_values(result, family, precision).items():
                if _measured(_num(value)):
                    figures[(family.__name__, label, backend, precision)] = value * 1e3
    return figures


def report(records, figures, title):
    rows, judged, within, worst, clock_ratios, first_within = [], 0, 0, None, [], 0
    floors, spans, off_inside, verdicts = {}, [], 0, []
    for r in records:
        key = (r["family"], r["case"], r["backend"], r["precision"])
        asv_ms, events_ms = figures.get(key), r.get("events_ms")
        ratio = asv_ms / events_ms if asv_ms is not None and events_ms else None
        verdict = ""
        if r["family"] == "Floor" and events_ms:
            floors[r["backend"]] = events_ms
        if ratio is not None and events_ms >= MIN_MS:
            judged += 1
            ok = abs(ratio - 1) <= GOAL
            within += ok
            levels = r.get("levels_ms")
            if levels and spread(levels):
                spans.append(spread(levels))
            verdict = "ok" if ok else "OFF"
            if not ok and levels and inside_levels(asv_ms, levels):
                off_inside += 1
                verdict = "OFF, inside the processes' levels"
            verdicts.append((r["backend"], verdict, ratio))
            worst = ratio if worst is None or abs(ratio - 1) > abs(worst - 1) else worst
            if r.get("host_ms"):
                clock_ratios.append(r["host_ms"] / events_ms)
            if r.get("first_ms"):
                first_within += abs(asv_ms / r["first_ms"] - 1) <= GOAL
        levels = r.get("levels_ms")
        rows.append([f"{r['family']} / {r['case']}", r["backend"], r["precision"], _ms(asv_ms), _ms(events_ms),
                     f"{_ms(levels[0])}-{_ms(levels[1])}" if levels else "n/a", _ms(r.get("first_ms")),
                     _ms(r.get("host_ms")), "n/a" if ratio is None else f"{ratio:.3f}", verdict or r.get("error", "")])
    head = ["Operation", "backend", "precision", "asv ms", "events ms", "events per process ms",
            f"events, first {ASV_SAMPLES} ms", "host ms",
            "asv/events", "within 5 %"]
    floor = ", ".join(f"{b} {ms:.3f} ms" for b, ms in floors.items())
    summary = (f"{within} of {judged} cases of {MIN_MS} ms or more within {GOAL:.0%}"
               + (f"; furthest asv/events {worst:.3f}" if worst is not None else "")
               + (f"; of the {judged - within} off, inside the span of the event processes' own levels: "
                  f"{off_inside}" if judged - within else "")
               + (f"; highest process level over lowest, median over the judged cases: x{statistics.median(spans):.3f}"
                  if spans else "")
               + (f"; floor (synchronised one-element op, by events): {floor}" if floor else "")
               # The same calls on the host's clock, as asv times them: what is left of asv/events
               # beyond this is the difference between asv's process and this one, not the timer.
               + (f"; host clock over events on the same calls: median {statistics.median(clock_ratios):.3f}, "
                  f"furthest {max(clock_ratios, key=lambda c: abs(c - 1)):.3f}" if clock_ratios else "")
               + (f"; against the events of the first {ASV_SAMPLES} calls after the case's warm-up in each "
                  f"process (asv's window): {first_within} of {judged} within {GOAL:.0%}" if judged else ""))
    table = tabulate(rows, head, tablefmt="github", disable_numparse=True)
    return f"**{title}**\n\n{table}\n\n{summary}\n" + (f"\n{by_backend(verdicts)}\n" if verdicts else "")


def by_backend(verdicts):
    """A table of the judged cases per backend: within the goal, off but inside their processes' span,
    off beyond it, and the median asv/events. `verdicts`: [(backend, verdict, asv/events)]."""
    groups = {}
    for backend, verdict, ratio in verdicts:
        groups.setdefault(backend, []).append((verdict, ratio))
    rows = [(backend, len(judged), sum(v == "ok" for v, _ in judged), sum(v.startswith("OFF,") for v, _ in judged),
             sum(v == "OFF" for v, _ in judged), f"{statistics.median(r for _, r in judged):.3f}")
            for backend, judged in groups.items()]
    return tabulate(rows, ("backend", "judged", f"within {GOAL:.0%}", "off, inside the processes' levels",
                           "off beyond them", "median asv/events"), tablefmt="github", disable_numparse=True)


def _ms(value):
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.fidelity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--machine", help="the machine whose asv results to check (this one)")
    parser.add_argument("--release", help="MLX release of those results (default: the newest)")
    parser.add_argument("--all", action="store_true",
                        help=f"measure the cases asv put under {MIN_MS} ms too (not judged; a longer run)")
    parser.add_argument("--output", help="also write the report to this file")
    parser.add_argument("--events", choices=INSTRUMENTS, default=INSTRUMENTS[0],
                        help="whose device events time the calls: torch's (default), or the CUDA driver's own, "
                             "which keep torch's CUDA out of MLX's processes (tools/cuda_events.py)")
    parser.add_argument("--cpu-latency-us", type=microseconds, metavar="US",
                        help="hold Linux's CPU wake-up latency limit while measuring, as the make bench run "
                             "checked did (tools/cpu_wakeup.py)")
    args = parser.parse_args(argv)
    if not args.machine:
        parser.error("--machine NAME is required: the machine whose asv results are checked")

    def make_report():
        result = pick_result(load_results(args.results, args.machine)[args.machine], args.machine, args.release)
        if not any(name in selected_backends() and not BACKENDS[name].unavailable_reason() for name in GPU_BACKENDS):
            raise TableError("no GPU backend here (mlx_gpu, mps, cuda); run it on the GPU machine of the results")
        figures = asv_figures(result)
        with cpu_wakeup.held(args.cpu_latency_us):
            records, passes = measure_all(Wanted(None if args.all else figures), args.events)
        if not passes:
            raise TableError("stopped before its first pass ended: nothing measured to report")
        p = result.params
        title = (f"{args.machine}: asv's latency over device events ({INSTRUMENT_NAMES[args.events]}); "
                 f"MLX {p.get('mlx', '?')}, "
                 f"torch {p.get('torch', '?')}, measured {time.strftime('%Y-%m-%d')}"
                 + ("" if args.all else f"; the cases asv put under {MIN_MS} ms are not measured (--all)")
                 + ("" if passes == PROCESSES else f"; stopped after {passes} of {PROCESSES} passes")
                 + ("" if args.cpu_latency_us is None else f"; {cpu_wakeup.described(args.cpu_latency_us)}"))
        return report(records, figures, title)

    return emit(make_report, args.output)


if __name__ == "__main__":
    sys.exit(main())
