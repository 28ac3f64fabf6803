"""Copy some figures of one asv results folder into another's result file of the same machine,
commit and environment: a short run's figures (a lent GPU's half-dtype or compiled-MLX cases, timed
in a scratch copy of the project) into the committed results, without the figures it re-timed on
the way (the floor) or the ones it did not run.

    python -m tools.merge_results FROM_RESULTS --machine h100-sxm-80gb --backends mlx_gpu,cuda
                                  --dtypes float16,bfloat16 [--bench time_latency] [--into results]

A figure is copied with its samples and statistics, as asv recorded it, where its backend and dtype
(float32 for a family without a dtype parameter) are selected, its benchmark's name matches --bench
(a regular expression), and the run has it (measured or failed; a case it skipped or did not run
leaves the other's figure alone). A benchmark both files hold must have the same version and
parameters in each; one the target lacks is added with the copied figures alone. Nothing is written
unless every check passes. Each figure copied keeps its day (`tools/figure_dates.py`): the run's own
record of it, else the day asv started its benchmark in that run.
"""

import argparse
import itertools
import math
import os
import re
import sys
import tempfile
from pathlib import Path

from asv import util as asv_util
from asv.results import Results

from benchmarks.backends import BACKEND_NAMES
from benchmarks.common import DTYPES
from tools import figure_dates
from tools.speedup_table import RESULTS, TableError, error_reason, machine_named_in, modes_of


class MergeError(Exception):
    pass


def _names_in(text, known, what):
    """The comma-separated names of `text`, each one of `known` (a MergeError names the others)."""
    names = [name for name in text.split(",") if name]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise MergeError(f"unknown {what} {', '.join(unknown) or repr(text)}: "
                         f"give some of {', '.join(known)}, comma-separated")
    return set(names)


def _run(value):
    return value is None or not math.isnan(value)  # failed, or measured; NaN: skipped or not run


class Selection:
    """Some figures: of some backends and dtypes (comma-separated names), of benchmarks whose name
    matches a regular expression; a bad name or expression is a MergeError naming the fix."""

    def __init__(self, backends=",".join(BACKEND_NAMES), dtypes=",".join(DTYPES), bench=""):
        self.backends = _names_in(backends, BACKEND_NAMES, "backend")
        self.dtypes = _names_in(dtypes, DTYPES, "dtype")
        try:
            self.bench = re.compile(bench)
        except re.error as error:
            raise MergeError(f"--bench {bench!r} is not a regular expression ({error})") from None

    def benchmark(self, name):
        return bool(self.bench.search(name))

    def figure(self, name, combination):
        """Whether a parameter combination of benchmark `name` (case, backend, then precision and dtype
        where the family has them; float32 may be left out) is selected."""
        if not self.benchmark(name):
            return False
        if len(combination) < 2:
            return True
        _, backend, *modes = (value.strip("'") for value in combination)
        return backend in self.backends and modes_of(modes)[1] in self.dtypes


SOURCE_FIX = "copy it from the run again"
TARGET_FIX = "restore it (git checkout -- {path}) and merge again"  # not "copy the run's file": it drops the others'


def _lists_of_strings(params):
    return isinstance(params, list) and all(isinstance(values, list) and all(isinstance(value, str) for value in values)
                                            for values in params)


def _check_shape(result):
    """TypeError where a result file read from valid JSON is not what merging reads: asv's loader takes any."""
    if not isinstance(result.commit_hash, str) or not isinstance(result.env_name, str):
        raise TypeError("its commit_hash and env_name must be strings")
    for name in result.get_all_result_keys():
        params = result.get_result_params(name)
        if not _lists_of_strings(params):
            raise TypeError(f"{name}: its params must be lists of strings")
        size = math.prod(len(values) for values in params)
        for column in (result._results[name], result._samples[name], result._stats[name]):
            if column is not None and (not isinstance(column, list) or len(column) != size):
                count = len(column) if isinstance(column, list) else "not a list of"
                raise TypeError(f"{name}: {count} values for {size} parameter combinations")
        if not all(value is None or isinstance(value, (int, float)) for value in result._results[name] or ()):
            raise TypeError(f"{name}: a figure neither a number nor null")
        if not isinstance(result.started_at.get(name), (int, float, type(None))):
            raise TypeError(f"{name}: its started_at is not a time")


def _machine_name(folder, fix):
    """The machine the machine.json of `folder` names; a MergeError where there is none, for asv would skip the
    result files beside it and this tool would then blame the options or the other folder."""
    path = Path(folder, "machine.json")
    try:
        return machine_named_in(path)
    except (OSError, asv_util.UserError, AttributeError) as error:
        raise MergeError(f"{path} cannot be read ({error_reason(error)}), so asv skips the result files beside it: "
                         + fix.format(path=path)) from None


def read_results(folder, machine, fix):
    """[(path, asv Results)] of the machine's result files in the results folder `folder`, each readable and of asv's
    shape: a MergeError names the first that is not and `fix` (a format of its path). asv's own reader would skip it
    with a warning, and the tool then blame the options or say the target lacks the file."""
    machine_folder = Path(folder, machine)
    paths = sorted(path for path in machine_folder.glob("*.json")
                   if path.name not in ("machine.json", "benchmarks.json"))
    if not paths:
        return []
    machine_name = _machine_name(machine_folder, fix)  # as asv checks each file against it
    results = []
    for path in paths:
        try:
            result = Results.load(str(path), machine_name=machine_name)
            _check_shape(result)
        except (OSError, asv_util.UserError, AttributeError, TypeError, ValueError, KeyError) as error:
            raise MergeError(f"{path} cannot be read as an asv result file ({error_reason(error)}): "
                             + fix.format(path=path)) from None
        results.append((path, result))
    return results


def merge(source, target, selection):
    """{benchmark: the parameters of each figure copied} from one asv Results into another (changed in
    place; the parameters as `figure_dates` keys them)."""
    copied = {}
    for name in sorted(filter(selection.benchmark, source.get_all_result_keys())):
        params = source.get_result_params(name)
        picked = [index for index, combination in enumerate(itertools.product(*params))
                  if selection.figure(name, combination)
                  and _run(source.get_result_value(name, params)[index])]
        if not picked:
            continue
        if name not in target.get_all_result_keys():  # added with none of its figures yet
            target._results[name] = [math.nan] * len(list(itertools.product(*params)))
            target._samples[name] = target._stats[name] = None
            target._benchmark_params[name] = params
            target._benchmark_version[name] = source.benchmark_version[name]
            target._started_at[name] = source.started_at[name]
        if params != target.get_result_params(name) or source.benchmark_version[name] != target.benchmark_version[name]:
            raise MergeError(f"{name} has other parameters or another version in the two folders (the suite "
                             "changed between the runs): re-run it instead")
        fields = {}
        for field, getter in (("_results", "get_result_value"), ("_samples", "get_result_samples"),
                              ("_stats", "get_result_stats")):
            mine, theirs = (getattr(result, getter)(name, params) for result in (target, source))
            for index in picked:
                mine[index] = theirs[index]
            fields[field] = mine
        for field, values in fields.items():
            getattr(target, field)[name] = None if all(value is None for value in values) else values
        combinations = list(itertools.product(*params))
        copied[name] = [figure_dates.parameters(combinations[index]) for index in picked]
    return copied


def _unwritable(where, error):
    return MergeError(f"cannot write {where} ({error_reason(error)}): make it writable, then merge again; "
                      "nothing was changed")


def save(into, machine, changed, dates):
    """The changed result files ([(path, asv Results)]) and the figures' days, each written whole beside the results
    folder `into` and then put in its file's place: all of them or, where one cannot be, none (a MergeError)."""
    try:
        with tempfile.TemporaryDirectory(dir=into) as scratch:
            staged = []
            for path, target in changed:
                target.save(scratch)
                staged.append((Path(scratch, target._filename), path))
            figure_dates.write(scratch, machine, dates)
            staged.append((Path(scratch, machine, figure_dates.FILE), Path(into, machine, figure_dates.FILE)))
            _replace_all(staged, Path(tempfile.mkdtemp(dir=scratch)))
    except OSError as error:
        raise _unwritable(f"in {into}", error) from None
    except TableError as error:  # the days, written into the scratch folder: why, without its advice
        raise _unwritable(f"in {into}", error.__context__ or error) from None


def _replace_all(staged, backups):
    """Put each staged file in the place of its (staged, path), all or none. Each file replaced is first linked into
    `backups`: one that cannot be replaced (immutable) mostly fails that link, before any file is replaced; one
    that fails later has those replaced before it put back."""
    for number, (_, path) in enumerate(staged):
        try:
            if os.path.lexists(path):
                os.link(path, backups / str(number), follow_symlinks=False)
        except OSError as error:
            raise _unwritable(path, error) from None
    for number, (new, path) in enumerate(staged):
        try:
            os.replace(new, path)
        except OSError as error:
            _put_back([replaced for _, replaced in staged[:number]], backups, error)
            raise _unwritable(path, error) from None


def _put_back(replaced, backups, why):
    for number, path in enumerate(replaced):
        old = backups / str(number)
        try:
            if old.exists():
                os.replace(old, path)
            else:  # not there before: added
                path.unlink()
        except OSError as error:  # the backups go with the scratch folder: git holds the committed file
            raise MergeError(f"cannot write the files in place ({error_reason(why)}), nor put {path} back as it was "
                             f"({error_reason(error)}): restore it (git checkout -- {path})") from None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.merge_results", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="the asv results folder to copy from")
    parser.add_argument("--machine", required=True)
    parser.add_argument("--into", default=str(RESULTS), help="the asv results folder to copy into (default: results/)")
    parser.add_argument("--backends", required=True, help=f"comma-separated, of {', '.join(BACKEND_NAMES)}")
    parser.add_argument("--dtypes", default="float32",
                        help=f"comma-separated, of {', '.join(DTYPES)} (default: float32)")
    parser.add_argument("--bench", default="", help="a regular expression the benchmark's name must match")
    args = parser.parse_args(argv)
    try:
        selection = Selection(args.backends, args.dtypes, args.bench)
        for folder in (args.source, args.into):
            if not (Path(folder) / args.machine).is_dir():
                raise MergeError(f"{folder} has no results of machine {args.machine!r}: "
                                 f"name a folder with a {args.machine}/ in it")
        targets = {(result.commit_hash, result.env_name): (path, result)
                   for path, result in read_results(args.into, args.machine, TARGET_FIX)}
        changed, report = [], []
        dates_from = figure_dates.read(args.source, args.machine)
        dates = figure_dates.read(args.into, args.machine)
        for _, source in read_results(args.source, args.machine, SOURCE_FIX):
            path, target = targets.get((source.commit_hash, source.env_name), (None, None))
            if target is None:
                raise MergeError(f"{args.into} has no result of {args.machine} for commit {source.commit_hash[:8]} in "
                                 f"environment {source.env_name}: copy that file instead")
            copied = merge(source, target, selection)
            if copied:
                changed.append((path, target))
                report += [f"{len(copied_params):4d}  {name}" for name, copied_params in copied.items()]
                for name, copied_params in copied.items():  # the run's own day, else asv's start of the benchmark
                    for params in copied_params:
                        figure_dates.put(dates, source.commit_hash, name, params,
                                         figure_dates.day_of(dates_from, source.commit_hash, name, params)
                                         or figure_dates.started_day(source, name))
        if not changed:
            raise MergeError("the selection copies no figure: check --backends, --dtypes and --bench against the run")
        save(args.into, args.machine, changed, dates)
    except (MergeError, figure_dates.DatesError) as error:
        sys.exit(f"error: {error}")
    print("\n".join(report))
    print(f"{sum(int(line.split()[0]) for line in report)} figures copied into {args.into}/{args.machine}/")


if __name__ == "__main__":
    main()
