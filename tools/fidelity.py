"""Does asv's figure hold up against the device's own clock? For each case on the GPU backends, the
benchmark's own timed method is called again as asv calls it (its setup before each call) with
device events around each call (many calls, median), and printed beside asv's median for it.

    python -m tools.fidelity --machine h100-sxm-80gb [--release 0.32.4] [--all] [--events torch] [--output FILE]
                             [--avoid-gpu-interrupts] [--cpu-latency-us US]

Run it on the machine whose results it reads, right after `make bench`: it reads each case's newest
figure, and one from an earlier run (on a lent GPU, another lease's machine) would compare machines,
not clocks. `MLXBENCH_BACKENDS` keeps it to the backends that run timed. Each case, backend and precision
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
the lowest and highest of its processes' own medians, and beside asv's figure those of asv's own
processes (its samples in `gpu_rounds` blocks, or --gpu-rounds, as tools.stability does). A case off where the two
spans overlap says so: some process of asv's ran where some process of the check's did, so what differs
is the process, not the timer (the host clock on the same calls is the timer's check). It counts the
cases whose two spans fall apart, beside how many would by chance were the two sides' processes alike
(with 3 a side, 1 in 10): more than that says the check's processes differ from asv's. Each
process says on stderr what it measured, as it ends.
A SIGTERM (a time limit's) ends the pass under way and reports the passes done, saying how many.
On NVIDIA GPUs the events are the CUDA driver's own (tools/cuda_events.py): torch's CUDA and its
events inside MLX's process slowed MLX's calls (docs/timing-checks.md), and asv never starts torch's
CUDA there. On Apple GPUs they are torch's MPS events, the only ones there. `--events torch` takes
torch's on CUDA too.
"""

import argparse
import importlib.metadata
import itertools
import math
import os
import signal
import statistics
import sys
import time

from tabulate import tabulate

from benchmarks.common import (BACKENDS, GPU_BACKENDS, OpBenchmark, PRECISIONS, op_families, selected_backends, torch,
                               verified_backend)
from benchmarks.known_failures import known_failure, mlx_gpu_platform
from tools import cpu_wakeup, cuda_events, gpu_interrupts
from tools.forked import forked
from tools.options import add_gpu_rounds, microseconds
from tools.speedup_table import (RESULTS, TableError, _measured, _num, cell_values, emit, load_results,
                                 pick_result)
from tools.stability import levels_of, spread

GOAL = 0.05  # asv/events may differ by this much
OVERLAPPING = "OFF, the processes overlap"  # the verdict on a case off by no more than its processes differ
MIN_MS = 0.2  # for cases that take at least this long
WARMUP_S = 0.3
MIN_CALLS, MAX_CALLS, BUDGET_S = 20, 100, 0.4  # per process
ASV_SAMPLES = OpBenchmark.repeat[1]  # the most samples asv takes of a case, per process
PROCESSES = OpBenchmark.gpu_rounds
CALL_LISTS = ("events", "host", "first")  # a record's per-call times (ms) until its processes are pooled


INSTRUMENTS = ("driver", "torch")  # whose device events: the CUDA driver's own (tools/cuda_events.py), or torch's
INSTRUMENT_NAMES = {"torch": "torch's", "driver": "the CUDA driver's"}


def default_instrument():
    """Whose events time the calls unless asked: on Apple GPUs torch's, the only ones there; on NVIDIA's
    the CUDA driver's, which leave MLX's processes without torch's CUDA, as asv's are."""
    return "torch" if sys.platform == "darwin" else "driver"


def events_for(backend, instrument):
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


def measure_all(wanted, instrument):
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
                      first_ms=statistics.median(first), calls=len(events), levels_ms=(min(levels), max(levels)),
                      processes=len(levels))
    return record


def levels_overlap(asv_levels, events_levels):
    """Whether the span of asv's processes' own medians (lowest, highest) meets that of the event
    processes': where a case is off only as far as separate processes differ (a GPU call's time depends
    on its process), the timer is not what differs."""
    return asv_levels[0] <= events_levels[1] and events_levels[0] <= asv_levels[1]


def apart_chance(one, other):
    """The chance that `one` and `other` processes whose levels come from one spread fall apart, every
    level of one side below every level of the other: 2 / C(one + other, one), 1 in 10 for 3 a side.
    Spans apart no more often than that say asv's processes and the check's are alike."""
    return 2 / math.comb(one + other, one)


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


def _latency_cells(result, samples=False):
    """((family, case, backend, precision), asv's value or samples) of every float32 latency cell."""
    for family in op_families():
        for precision in PRECISIONS if family.uses_matrix_units else PRECISIONS[:1]:
            for (label, backend), value in cell_values(result, family, precision, samples=samples).items():
                yield (family.__name__, label, backend, precision), value


def asv_figures(result):
    """{(family, case, backend, precision): asv's latency in ms} of one result."""
    return {key: value * 1e3 for key, value in _latency_cells(result) if _measured(_num(value))}


def asv_levels(result, rounds=PROCESSES):
    """{(family, case, backend, precision): (lowest, highest) of asv's own processes' medians, ms}, for
    the figures whose samples split into `make bench`'s GPU processes (`rounds` of them: its
    --gpu-rounds)."""
    split = {key: levels_of(samples, rounds) for key, samples in _latency_cells(result, samples=True)}
    return {key: (min(levels) * 1e3, max(levels) * 1e3) for key, levels in split.items() if levels}


def report(records, figures, title, asv_spans=None, asv_rounds=PROCESSES):
    """The table and its summary. `figures`: {key: asv's ms}; `asv_spans`: {key: (lowest, highest) of
    asv's processes' medians, ms} where its samples split into its `asv_rounds` processes (asv_levels)."""
    asv_spans = asv_spans or {}
    rows, judged, within, worst, clock_ratios, first_within = [], 0, 0, None, [], 0
    floors, spans, off_overlapping, verdicts, apart, paired, apart_expected = {}, [], 0, [], 0, 0, 0.0
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
            if levels and key in asv_spans:
                paired += 1
                apart += not levels_overlap(asv_spans[key], levels)
                apart_expected += apart_chance(asv_rounds, r.get("processes", PROCESSES))
            if not ok and levels and levels_overlap(asv_spans.get(key, (asv_ms, asv_ms)), levels):
                off_overlapping += 1
                verdict = OVERLAPPING
            verdicts.append((r["backend"], verdict, ratio))
            worst = ratio if worst is None or abs(ratio - 1) > abs(worst - 1) else worst
            if r.get("host_ms"):
                clock_ratios.append(r["host_ms"] / events_ms)
            if r.get("first_ms"):
                first_within += abs(asv_ms / r["first_ms"] - 1) <= GOAL
        rows.append([f"{r['family']} / {r['case']}", r["backend"], r["precision"], _ms(asv_ms),
                     _span(asv_spans.get(key)), _ms(events_ms), _span(r.get("levels_ms")), _ms(r.get("first_ms")),
                     _ms(r.get("host_ms")), "n/a" if ratio is None else f"{ratio:.3f}", verdict or r.get("error", "")])
    head = ["Operation", "backend", "precision", "asv ms", "asv per process ms", "events ms", "events per process ms",
            f"events, first {ASV_SAMPLES} ms", "host ms",
            "asv/events", "within 5 %"]
    floor = ", ".join(f"{b} {ms:.3f} ms" for b, ms in floors.items())
    summary = (f"{within} of {judged} cases of {MIN_MS} ms or more within {GOAL:.0%}"
               + (f"; furthest asv/events {worst:.3f}" if worst is not None else "")
               + (f"; of the {judged - within} off, where asv's processes and the event processes overlap: "
                  f"{off_overlapping}" if judged - within else "")
               + (f"; highest process level over lowest, median over the judged cases: x{statistics.median(spans):.3f}"
                  if spans else "")
               + (f"; asv's processes and the event processes apart (every level of one side below the other's) "
                  f"in {apart} of {paired} judged cases with both, {apart_expected:.1f} expected by chance were the "
                  f"two sides' processes alike" if paired else "")
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
    """A table of the judged cases per backend: within the goal, off where asv's processes and the
    check's overlap, off beyond them, and the median asv/events. `verdicts`: [(backend, verdict, asv/events)]."""
    groups = {}
    for backend, verdict, ratio in verdicts:
        groups.setdefault(backend, []).append((verdict, ratio))
    rows = [(backend, len(judged), sum(v == "ok" for v, _ in judged), sum(v == OVERLAPPING for v, _ in judged),
             sum(v == "OFF" for v, _ in judged), f"{statistics.median(r for _, r in judged):.3f}")
            for backend, judged in groups.items()]
    return tabulate(rows, ("backend", "judged", f"within {GOAL:.0%}", "off, the processes overlapping",
                           "off beyond them", "median asv/events"), tablefmt="github", disable_numparse=True)


def _span(levels):
    return f"{_ms(levels[0])}-{_ms(levels[1])}" if levels else "n/a"


def _ms(value):
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.fidelity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--machine", help="the machine whose asv results to check (this one)")
    parser.add_argument("--release", help="MLX release of those results (default: the newest)")
    parser.add_argument("--all", action="store_true",
                        help=f"measure the cases asv put under {MIN_MS} ms too (not judged; a longer run)")
    add_gpu_rounds(parser, PROCESSES, f"; the check's own passes stay {PROCESSES}")
    parser.add_argument("--output", help="also write the report to this file")
    parser.add_argument("--events", choices=INSTRUMENTS, default=default_instrument(),
                        help="whose device events time the calls: the CUDA driver's own, which keep torch's CUDA "
                             "out of MLX's processes (tools/cuda_events.py; the default on NVIDIA GPUs), or "
                             "torch's (the default, and the only ones, on Apple GPUs)")
    parser.add_argument("--cpu-latency-us", type=microseconds, metavar="US",
                        help="hold Linux's CPU wake-up latency limit while measuring, as the make bench run "
                             "checked did (tools/cpu_wakeup.py)")
    parser.add_argument("--avoid-gpu-interrupts", action="store_true",
                        help="measure on the CPUs that take none of the GPU's interrupts, as the make bench run "
                             "checked did with the same option (tools/gpu_interrupts.py)")
    args = parser.parse_args(argv)
    if not args.machine:
        parser.error("--machine NAME is required: the machine whose asv results are checked")

    def make_report():
        result = pick_result(load_results(args.results, args.machine)[args.machine], args.machine, args.release)
        if not any(name in selected_backends() and not BACKENDS[name].unavailable_reason() for name in GPU_BACKENDS):
            raise TableError("no GPU backend here (mlx_gpu, mps, cuda); run it on the GPU machine of the results")
        figures = asv_figures(result)
        pinned = ""
        if args.avoid_gpu_interrupts:  # the measuring processes inherit it
            try:
                free, taking = gpu_interrupts.cpus_avoiding()
            except gpu_interrupts.NoInterruptsError as error:
                raise TableError(str(error)) from None
            os.sched_setaffinity(0, free)
            pinned = (f"; on CPUs {gpu_interrupts.cpu_list(free)}, away from the GPU's interrupts "
                      f"(CPUs {gpu_interrupts.cpu_list(taking)})")
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
                 + ("" if args.cpu_latency_us is None else f"; {cpu_wakeup.described(args.cpu_latency_us)}")
                 + pinned)
        return report(records, figures, title, asv_levels(result, args.gpu_rounds), args.gpu_rounds)

    return emit(make_report, args.output)


if __name__ == "__main__":
    sys.exit(main())
