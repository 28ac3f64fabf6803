"""Why do asv's MLX figures sit below the device events' (H100, 2026-12-06: `tools.fidelity`, a
process per case, MLX's asv/events median 0.973 plain and 0.929 compiled, torch's 0.997; MLX's tf32
Linear `100x1024x256` by events 0.455-0.465 ms on three leases while asv's figure went 0.34-0.52)?

MLX on CUDA hands a finished call's buffers back to its cache on a worker thread, woken through a
host callback after the GPU's work ends (mlx/backend/cuda/worker.cpp at 846d176), so whether the next
call's output finds its buffer in the cache depends on how soon that thread ran: a race between two
thread wake-ups and the host's gap between calls, which asv's loop and the fidelity loop set
differently. This probe times the suite's own benchmark (its setup before every call, as asv) in a
fresh interpreter per process, in interleaved blocks of variants:

    asv       the timed call with the garbage collector off (as asv's timeit), nothing between calls
    gc on     the same with the collector on (as tools.fidelity)
    synced    as asv, with mx.synchronize() after each call's teardown, outside the timing: it
              returns once the worker has run every earlier call's release (CommandEncoder::synchronize)
    events    tools.fidelity's loop: torch events on a stream of their own around the call (only in
              the processes of mode `torch`, where torch's CUDA is started first, as in tools.fidelity)
    cu events the same loop with the CUDA driver's own events (tools/cuda_events.py, as
              `tools.fidelity --events driver`), torch's CUDA never started (mode `plain`, MLX on CUDA
              only): an instrument for MLX without torch in its process, if it leaves MLX's time as it was

and records before each call the bytes MLX's allocator holds: a call whose previous output is still
held ("held") beside one that found it released. Run from the tree's root:

    python3 docs/measurements/h100-2026-12-06c/release_probe.py [--processes 3] [--backend mlx_cpu --family Floor]

One line per process and variant: median ms, calls, share of calls with the last output held, the
median ms of held and of not-held calls, by events where the variant has them, and the host's gap
since the last call ended (the time the worker thread had). --backend swaps the GPU backends for one (a dry run on a
machine without a GPU)."""

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

CASES = (  # (family, case, backend, precision): the cases furthest off on 2026-12-06, two controls
    ("Linear", "dim=100x1024x256 dim=256x1024 dim=1024", "mlx_gpu", "tf32"),
    ("Linear", "dim=100x1024x256 dim=256x1024 dim=1024", "mlx_gpu_compile", "tf32"),
    ("Linear", "dim=100x1024x32 dim=32x1024 dim=1024", "mlx_gpu_compile", "strict"),
    ("Conv1d", "dim=16x1000x80 dim=128x11x80", "mlx_gpu_compile", "strict"),
    ("SumAll", "dim=1000000x128", "mlx_gpu", None),
    ("Gather", "dim=32000x4096 dim=8192 axi=0", "mlx_gpu", None),
    ("BCE", "dim=128x100000 dim=128x100000", "mlx_gpu", None),
    ("Floor", "dim=1", "mlx_gpu", None),
    ("Linear", "dim=100x1024x256 dim=256x1024 dim=1024", "cuda", "tf32"),  # torch: asv/events 1.002
)
ROUNDS, BLOCK = 6, 20


def one_process(family_name, label, backend_name, precision, mode):
    """Time the case in this process; print one JSON line of per-call records per variant."""
    sys.path.insert(0, os.getcwd())
    from benchmarks.common import mx, op_families, torch

    family = next(f for f in op_families() if f.__name__ == family_name)
    bench = family()
    params = (label, backend_name) + ((precision,) if family.uses_matrix_units else ())
    instruments = {}  # variant: (start, end, stream)
    if mode == "torch":  # torch's CUDA first, as tools.fidelity's events_for does
        instruments["events"] = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True), \
            torch.cuda.Stream()
    bench.setup(*params)
    is_mlx = bench.backend.framework == "mlx"
    output_bytes = bench.backend.run(bench.op, bench.args).nbytes
    bench.teardown(*params)
    if mode == "plain" and is_mlx and mx.cuda.is_available():
        from tools import cuda_events
        try:
            instruments["cu events"] = cuda_events.Event(), cuda_events.Event(), cuda_events.Stream()
        except cuda_events.DriverError as error:
            print(f"cu events: {error}", file=sys.stderr)
    held_now = mx.get_active_memory if is_mlx else (lambda: torch.cuda.memory_allocated())
    release = mx.synchronize if is_mlx else (lambda: None)
    last_end = [time.perf_counter()]

    def call(variant):
        """One call in `variant`: {ms: host clock, before: bytes held before it, gap: ms since the last
        call ended, event: ms by events or None}."""
        start, end, stream = instruments.get(variant, (None, None, None))
        bench.setup(*params)
        before = held_now()
        if variant not in ("gc on", *instruments):
            gc.disable()  # as asv's timeit
        t0 = time.perf_counter()
        if start:
            start.record(stream)
        bench.time_latency(*params)
        if end:
            end.record(stream)
        t1 = time.perf_counter()
        gc.enable()
        bench.teardown(*params)
        event_ms = None
        if end:
            end.synchronize()
            event_ms = start.elapsed_time(end)
        if variant == "synced":
            release()
        gap, last_end[0] = (t0 - last_end[0]) * 1e3, t1
        return {"ms": (t1 - t0) * 1e3, "before": before, "gap": gap, "event": event_ms}

    variants = ["asv", "gc on", "synced", *instruments]
    calls = {v: [] for v in variants}
    for _ in range(ROUNDS):
        for variant in variants:
            calls[variant] += [call(variant) for _ in range(BLOCK)]
    print(json.dumps({"output_bytes": output_bytes, "calls": calls}))


def median(values):
    return statistics.median(values) if values else float("nan")


def summary(calls, output_bytes):
    """{variant: (median ms, calls, share held, median ms held, median ms not held, median event ms,
    median gap ms)}. A call counts as held where MLX held more than half an output's bytes over the
    least it held before any call of the process: the last output not yet back in the cache."""
    baseline = min(r["before"] for records in calls.values() for r in records)
    out = {}
    for variant, records in calls.items():
        held = [r["ms"] for r in records if r["before"] - baseline > output_bytes / 2]
        free = [r["ms"] for r in records if r["before"] - baseline <= output_bytes / 2]
        out[variant] = (median([r["ms"] for r in records]), len(records), len(held) / len(records), median(held),
                        median(free), median([r["event"] for r in records if r["event"] is not None]),
                        median([r["gap"] for r in records]))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--backend", help="run every case on this backend instead (a dry run)")
    parser.add_argument("--family", action="append", help="only this family's cases (repeatable)")
    args = parser.parse_args()
    modes = ("plain", "torch") if not args.backend else ("plain",)
    for family, label, backend, precision in CASES:
        if args.family and family not in args.family:
            continue
        backend = args.backend or backend
        for mode in modes:
            for p in range(1, args.processes + 1):
                name = f"{family} / {label} | {backend} {precision or ''} | {mode} p{p}"
                try:
                    done = subprocess.run([sys.executable, __file__, "--one", family, label, backend,
                                           precision or "strict", mode], capture_output=True, text=True, timeout=90)
                except subprocess.TimeoutExpired:
                    print(f"{name}: timed out", flush=True)
                    continue
                lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
                if done.returncode != 0 or not lines:
                    print(f"{name}: failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}", flush=True)
                    continue
                record = json.loads(lines[-1])
                for variant, (ms, n, share, held, free, event_ms, gap) in summary(record["calls"],
                                                                                  record["output_bytes"]).items():
                    print(f"{name} | {variant:9} | {ms:.3f} ms | {n} calls | held {share:4.0%} | "
                          f"held {held:.3f} | not held {free:.3f} | events {event_ms:.3f} | gap {gap:.3f}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        one_process(*sys.argv[2:7])
    else:
        main()
