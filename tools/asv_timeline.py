"""asv plugin (asv.conf.json's "plugins"): before any asv command, create or update the MLX release
timeline that asv's `repo` points at, so plain `asv run`, `asv publish` and `asv find` work on a
fresh clone; and refuse a release range that names no release, in one line (asv itself prints a git
traceback). asv imports it from the current directory: run asv from the project's root."""

import shlex
import subprocess
import sys

from tools import timeline

# asv run's range words that are not git revisions (asv resolves them itself).
ASV_RANGE_WORDS = ("ALL", "NEW", "EXISTING")


def command_range(argv):
    """The release range of an `asv run` or `asv find` command line, parsed by asv's own parser; else None."""
    from asv.commands import make_argparser

    if not {"run", "find"} & set(argv):
        return None
    try:
        args, _ = make_argparser()[0].parse_known_args(argv)
    except SystemExit:  # asv reports its own usage errors
        return None
    spec = getattr(args, "range", None)
    if getattr(args.func, "__self__", None).__name__ not in ("Run", "Find") or not spec:
        return None
    return None if spec in ASV_RANGE_WORDS or spec.startswith("HASHFILE:") else spec


def check_range(spec, repo=timeline.REPO):
    """Resolve `spec` as asv will (git rev-list); a TimelineError naming the releases if it cannot."""
    listed = subprocess.run(["git", "-C", str(repo), "rev-list", "--first-parent", *shlex.split(spec), "--"],
                            capture_output=True, text=True)
    if listed.returncode != 0:
        releases = list(timeline.hashes(repo))
        raise timeline.TimelineError(
            f"{spec!r} is no release range of the timeline: releases are tags v<version>, v{releases[0]} to "
            f"v{releases[-1]} (`git -C {repo} tag` lists them; `make releases` adds new ones); "
            "write vA..vB (after vA up to vB), vA^..vB (vA included), vA^! (vA alone) or main~N..main (newest N)"
        )


def setup():
    try:
        timeline.build()
        spec = command_range(sys.argv[1:])
        if spec:
            check_range(spec)
    except timeline.TimelineError as error:
        sys.exit(f"error: {error}")
