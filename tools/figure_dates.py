"""The day each figure of a machine's results was measured.

asv keeps one start time per benchmark, shared by all its cases and backends and overwritten by every
run that times any of them, so a result file filled by several runs (`make bench`'s CPU pass, then
its GPU passes; `tools.merge_results`) cannot tell which day a figure is from. This file beside it
can: results/MACHINE/figure-dates.tsv, a line a figure: commit, benchmark, parameters (as asv writes
them: 'dim=1', 'cuda') and the day (UTC), tab-separated, sorted. `make bench` dates the figures
each of its asv runs changed, `tools.merge_results` those it copies, and the tables print the days.

    python -m tools.figure_dates --machine h100-sxm-80gb --from-git   # results committed before this file

dates each committed figure without a day by the git commit from which on it was as it is.
"""

import argparse
import datetime
import itertools
import json
import math
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from asv import util as asv_util
from asv.results import Results, iter_results_for_machine

DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
FILE = "figure-dates.tsv"  # not .json: asv reads every .json of the folder as a result file


class DatesError(Exception):
    pass


def today():
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


def parameters(combination):
    """The key of one parameter combination, as asv writes its values."""
    return ", ".join(combination)


def put(dates, commit, name, params, day):
    """Set one figure's day in a {commit: {benchmark: {parameters: day}}}."""
    dates.setdefault(commit, {}).setdefault(name, {})[params] = day


def figures(results_dir, machine):
    """{(commit, benchmark, parameters): its value and statistics} of every figure of the machine's result
    files that a run left: measured, or failed (None); not the skipped and never run (NaN)."""
    if not Path(results_dir, machine).is_dir():
        return {}
    return dict(item for result in iter_results_for_machine(str(results_dir), machine)
                for item in _result_figures(result))


def _result_figures(result):
    for name in result.get_all_result_keys():
        params = result.get_result_params(name)
        values, stats = result.get_result_value(name, params), result.get_result_stats(name, params)
        for combination, value, stat in zip(itertools.product(*params), values, stats):
            if value is None or not math.isnan(value):  # as text: NaN in the statistics equals itself
                yield (result.commit_hash, name, parameters(combination)), json.dumps([value, stat], sort_keys=True)


def read(results_dir, machine):
    """{commit: {benchmark: {parameters: day}}} of the machine's file ({} where there is none)."""
    path = Path(results_dir, machine, FILE)
    dates = {}
    try:
        lines = path.read_text().splitlines() if path.exists() else []
    except OSError as error:
        raise DatesError(f"{path} cannot be read ({error.strerror}); restore it (git checkout) or delete it: "
                         "its figures then show no day") from None
    for number, line in enumerate(lines, 1):
        fields = line.split("\t")
        if len(fields) != 4 or not DAY.fullmatch(fields[3]):
            raise DatesError(f"{path}:{number}: expected 'COMMIT<tab>BENCHMARK<tab>PARAMETERS<tab>YYYY-MM-DD', got "
                             f"{line!r}; restore it (git checkout) or delete it: its figures then show no day")
        put(dates, *fields)
    return dates


def write(results_dir, machine, dates):
    from tools.speedup_table import write_atomically  # that module reads this one

    lines = sorted(f"{commit}\t{name}\t{params}\t{day}" for commit, names in dates.items()
                   for name, days in names.items() for params, day in days.items())
    write_atomically(Path(results_dir, machine, FILE), "".join(line + "\n" for line in lines))


def record(results_dir, machine, before, day):
    """Date `day` every figure that differs from `before` (a `figures` of the same folder, taken before
    a run); the number dated."""
    changed = [key for key, figure in figures(results_dir, machine).items() if before.get(key) != figure]
    if changed:
        dates = read(results_dir, machine)
        for commit, name, params in changed:
            put(dates, commit, name, params, day)
        write(results_dir, machine, dates)
    return len(changed)


def day_of(dates, commit, name, params):
    return dates.get(commit, {}).get(name, {}).get(params)


def of_result(results_dir, machine, result):
    """{(benchmark, parameters): day} of one asv result's figures, where recorded."""
    return {(name, params): day for name, days in read(results_dir, machine).get(result.commit_hash, {}).items()
            for params, day in days.items()}


def started_day(result, name):
    """The day asv's start time of a benchmark gives (all its figures share it), or None."""
    started = result.started_at.get(name)
    if started is None:
        return None
    return datetime.datetime.fromtimestamp(started / 1e3, datetime.timezone.utc).date().isoformat()


def from_history(results_dir, machine):
    """{commit: {benchmark: {parameters: day}}} of the machine's result files under git: each figure
    gets the UTC day of the oldest git commit from which on its file held it as it is now (the day it
    was committed, which this project does on the day it is measured)."""
    folder = Path(results_dir, machine)
    days = {}
    for path in sorted(folder.glob("*.json")):
        if path.name == "machine.json":
            continue
        current = _figures_of(path)
        log = _git(folder, "log", "--format=%H %ct", "--", path.name).split()
        since = {}  # figure: the oldest commit's day from which on it is as now
        remaining = set(current)
        for commit, seconds in zip(log[::2], log[1::2]):  # newest first
            with tempfile.TemporaryDirectory() as scratch:
                old = Path(scratch, path.name)
                old.write_bytes(_git(folder, "show", f"{commit}:./{path.name}", binary=True))
                try:
                    held = _figures_of(old)
                except DatesError:  # a version asv cannot read held none of the figures as they are now
                    held = {}
            day = datetime.datetime.fromtimestamp(int(seconds), datetime.timezone.utc).date().isoformat()
            remaining = {key for key in remaining if held.get(key) == current[key]}
            for key in remaining:
                since[key] = day
            if not remaining:
                break
        for (commit, name, params), day in since.items():
            put(days, commit, name, params, day)
    return days


def _figures_of(path):
    from tools.speedup_table import error_reason  # that module reads this one

    try:
        return dict(_result_figures(Results.load(str(path))))
    except (asv_util.UserError, OSError, TypeError, ValueError, KeyError, AttributeError) as error:
        raise DatesError(f"{path} is not an asv result file ({error_reason(error)}); restore it (git checkout) or "
                         f"move it out of {path.parent}") from None


def _write_for_user(results_dir, machine, dates):
    """`write`, with the fix open to this tool's user: not the table's advice to name another path."""
    from tools.speedup_table import TableError  # that module reads this one

    try:
        write(results_dir, machine, dates)
    except TableError as error:
        cause = error.__context__  # the OSError that write_atomically turned into TableError
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(error)
        raise DatesError(f"cannot write {Path(results_dir, machine, FILE)} ({reason}); make it and its folder "
                         "writable, then run again: nothing was changed") from None


def _git(folder, *args, binary=False):
    try:
        return subprocess.run(["git", *args], cwd=folder, capture_output=True, check=True, text=not binary).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise DatesError(f"git {' '.join(args[:2])} failed in {folder} ({error}); the days come from the git history "
                         "of a checkout") from None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.figure_dates", description=__doc__.split("\n\n")[0])
    parser.add_argument("--machine", required=True)
    parser.add_argument("--results", default="results", help="asv results folder (default: results/)")
    parser.add_argument("--from-git", action="store_true", required=True,
                        help="give each figure that has no recorded day the day git first held it as it is")
    args = parser.parse_args(argv)
    try:
        if not Path(args.results, args.machine).is_dir():
            raise DatesError(f"no results of machine {args.machine!r} in {args.results}; name one of its folders")
        dates = read(args.results, args.machine)
        added = 0
        for commit, names in from_history(args.results, args.machine).items():
            for name, days in names.items():
                for params, day in days.items():
                    if day_of(dates, commit, name, params) is None:
                        put(dates, commit, name, params, day)
                        added += 1
        _write_for_user(args.results, args.machine, dates)
    except DatesError as error:
        sys.exit(f"error: {error}")
    print(f"{added} figures dated from git in {Path(args.results, args.machine, FILE)}")


if __name__ == "__main__":
    main()
