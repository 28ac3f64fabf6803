"""A machine's ceilings for the roofline tables: per backend, the bandwidth of a large elementwise
op (read once, write once) and the rate of a large float32 matmul (per precision mode), each the
best of many synchronised calls. Stored as results/<machine>/ceilings.txt beside its results.

    python -m tools.ceilings --machine NAME

`make table TABLE_ARGS='--metric bandwidth'` (or `flops`) then prints each case's share of them.
"""

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import PRECISIONS, mx, selected_backends, torch, verified_backend
from tools.bench import installed_versions
from tools.forked import forked
from tools.speedup_table import CEILINGS_FILE, RESULTS, TableError, check_writable, load_ceilings, write_atomically

COPY_ELEMENTS = 1 << 26  # 256 MB of float32: far past every cache
MATMUL_SIZE = {"cpu": 2048, "gpu": 8192}  # square; the CPU one keeps a call under a second on small machines
CALLS, BUDGET_S = 20, 3.0


def best_seconds(backend, op, args):
    """The fastest of up to CALLS synchronised calls (after two), within about BUDGET_S."""
    for _ in range(2):
        backend.run(op, args)
    times, stop_at = [], time.perf_counter() + BUDGET_S
    while len(times) < CALLS and (len(times) < 3 or time.perf_counter() < stop_at):
        start = time.perf_counter()
        backend.run(op, args)
        times.append(time.perf_counter() - start)
    return min(times)


def measure(name, precision, send):
    """Send {"bandwidth": GB/s} (strict only) and {"flops" or "flops_tf32": TFLOP/s} of one backend."""
    try:
        backend = verified_backend(name, precision)
    except NotImplementedError:
        return
    add = (lambda x: mx.add(x, 1.0)) if backend.framework == "mlx" else (lambda x: torch.add(x, 1.0))
    matmul = (lambda a, b: mx.matmul(a, b)) if backend.framework == "mlx" else (lambda a, b: torch.matmul(a, b))
    rng = np.random.default_rng(0)
    n = MATMUL_SIZE["cpu" if backend.device == "cpu" else "gpu"]
    found = {}
    with backend.session(precision):
        if precision == "strict":
            x = backend.array(rng.standard_normal(COPY_ELEMENTS, dtype=np.float32))
            found["bandwidth"] = 2 * 4 * COPY_ELEMENTS / best_seconds(backend, add, (x,)) / 1e9
            del x
        a, b = (backend.array(rng.standard_normal((n, n), dtype=np.float32)) for _ in range(2))
        key = "flops" if precision == "strict" else "flops_tf32"
        found[key] = 2 * n ** 3 / best_seconds(backend, matmul, (a, b)) / 1e12
    send((name, found))


def ceilings():
    """{backend: {...}} for every backend here, each mode in a process of its own."""
    found = {}
    for name in selected_backends():
        for precision in PRECISIONS:
            for backend, values in forked(measure, name, precision)[0]:
                found.setdefault(backend, {}).update(values)
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.ceilings", description=__doc__.split("\n\n")[0])
    parser.add_argument("--machine", required=True, help="the results folder to store them with: results/<machine>/")
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv)
    folder = Path(args.results) / args.machine
    if not folder.is_dir():
        sys.exit(f"error: no results of machine {args.machine!r} in {args.results}; run `make bench` on it first")
    try:  # checked before minutes of measuring
        check_writable(folder / CEILINGS_FILE)
        earlier = load_ceilings(args.results, args.machine)
    except TableError as error:
        sys.exit(f"error: {error}")
    found = ceilings()
    if not found:
        sys.exit("error: no backend could run here; see MLXBENCH_BACKENDS")
    versions = ", ".join(f"{name} {version}" for name, version in installed_versions().items())
    lines = [f"# tools/ceilings.py on {time.strftime('%Y-%m-%d')}: {versions}, Python {platform.python_version()}",
             "# backend, ceiling (bandwidth: GB/s; flops, flops_tf32: TFLOP/s), value"]
    lines += [f"{name} {key} {value:.6g}" for name, values in found.items() for key, value in values.items()]
    # A run with fewer backends (MLXBENCH_BACKENDS, or another host) keeps the others' earlier figures.
    kept = {name: values for name, values in earlier.items() if name not in found}
    if kept:
        lines.append(f"# kept from the earlier {CEILINGS_FILE} (not measured this time): {', '.join(kept)}")
        lines += [f"{name} {key} {value:.6g}" for name, values in kept.items() for key, value in values.items()]
    text = "\n".join(lines) + "\n"
    try:
        write_atomically(folder / CEILINGS_FILE, text)  # not .json: asv reads every .json there as a result
    except TableError as error:
        sys.exit(f"error: {error}")
    print(text + f"written to {folder / CEILINGS_FILE}")


if __name__ == "__main__":
    main()
