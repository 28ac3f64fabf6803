"""Where one case's synchronised call spends its time on a CUDA backend: torch's profiler (CUPTI)
sees the kernels and CUDA runtime calls of both frameworks.

    python -m tools.profile_case "MatMul / dim=1000000x64 dim=64x1024" --backend mlx_gpu --precision tf32
    python -m tools.profile_case "GELU / dim=1x32x11008" --backend mlx_gpu_compile

Prints, per kernel and per runtime call, the total over --calls synchronised calls (after a warm-up),
as torch's profiler table does; `--back-to-back` profiles the throughput form instead.
"""

import argparse
import sys

from benchmarks.common import BACK_TO_BACK, PRECISIONS, torch, verified_backend
from tools.options import above_zero
from tools.speedup_table import TableError, find_row


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.profile_case", description=__doc__.split("\n\n")[0])
    parser.add_argument("row", help="the table's row name: 'Family / case label'")
    parser.add_argument("--backend", choices=("mlx_gpu", "mlx_gpu_compile", "cuda"), default="mlx_gpu")
    parser.add_argument("--precision", choices=PRECISIONS, default="strict")
    parser.add_argument("--calls", type=above_zero(int, "number of calls"), default=20,
                        help="calls profiled (default: 20)")
    parser.add_argument("--back-to-back", action="store_true", help=f"{BACK_TO_BACK} calls, one synchronisation")
    args = parser.parse_args(argv)
    try:
        family, label = find_row(args.row)
    except TableError as error:
        sys.exit(f"error: {error}")
    try:
        backend = verified_backend(args.backend, args.precision)
    except NotImplementedError as error:
        sys.exit(f"error: {error}")
    bench = family()
    with backend.session(args.precision):
        op, inputs = bench.prepare(label, backend)

        def call():
            if args.back_to_back:
                backend.run_back_to_back(op, inputs, BACK_TO_BACK)
            else:
                backend.run(op, inputs)

        for _ in range(10):
            call()
        activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
        with torch.profiler.profile(activities=activities) as profiler:
            for _ in range(args.calls):
                call()
    print(f"{args.row} on {args.backend}, {args.precision}, {args.calls} "
          f"{'back-to-back groups' if args.back_to_back else 'synchronised calls'}")
    print(profiler.key_averages().table(sort_by="self_cuda_time_total", row_limit=25, max_name_column_width=60))


if __name__ == "__main__":
    main()
