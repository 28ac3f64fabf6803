"""Option types the tools share: argparse turns their errors into one line and exit 2. Nothing of the
suite is imported here, so `make bench` can check its options before it loads MLX or torch."""

import argparse
import math


def above_zero(kind, what):
    """An argparse type: a number of `kind` (int or float) above 0 and finite; else an error naming
    `what` it counts, e.g. above_zero(int, "number of calls")."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} is no {what}: give one above 0")
        return value

    return parse


def microseconds(text):
    """--cpu-latency-us: a whole number of microseconds from 0, as the kernel takes it (32 bits)."""
    if not text.isdigit() or int(text) >= 2**31:
        raise argparse.ArgumentTypeError(f"{text!r} is no number of microseconds: give a whole number from 0, e.g. 0")
    return int(text)


def add_gpu_rounds(parser, default, more=""):
    """--gpu-rounds N on a tool that reads `make bench`'s results: how many GPU rounds they had, which
    splits a GPU figure's samples into its processes (a block of samples each, in run order)."""
    parser.add_argument("--gpu-rounds", type=above_zero(int, "number of GPU rounds"), default=default, metavar="N",
                        help=f"the results' `make bench --gpu-rounds`, which splits a GPU figure's samples into its "
                             f"processes (default: {default}, the suite's){more}")
