"""Copying a short run's figures into another results folder (tools.merge_results)."""

import errno
import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from asv.results import iter_results_for_machine

from conftest import ROOT
from tests_support import write_fake_results

RELU = "bench_activations.ReLU.time_latency"


def merge(*args):
    return subprocess.run([sys.executable, "-m", "tools.merge_results", *args], cwd=ROOT, capture_output=True,
                          text=True)


def cells(results_dir, name=RELU):
    """{(case, backend, dtype): figure} of the one result file in `results_dir` for machine box."""
    result, = iter_results_for_machine(str(results_dir), "box")
    params = result.get_result_params(name)
    combos = [tuple(value.strip("'") for value in combo) for combo in itertools.product(*params)]
    return dict(zip(combos, result.get_result_value(name, params)))


def test_it_copies_the_selected_backends_and_dtypes_and_leaves_the_rest(tmp_path):
    short_run, committed = tmp_path / "run", tmp_path / "committed"
    write_fake_results(short_run, "box", cuda=True, half={"float16": 0.5}, slower=("ReLU / dim=128x16x1024", "cuda"))
    write_fake_results(committed, "box", cuda=True)
    before, run = cells(committed), cells(short_run)
    gelu = "bench_activations.GELU.time_latency"
    gelu_before = cells(committed, gelu)
    merged = merge(str(short_run), "--machine", "box", "--into", str(committed), "--backends", "cuda,mlx_gpu",
                   "--dtypes", "float16", "--bench", r"\.ReLU\.")
    assert merged.returncode == 0, merged.stderr
    assert merged.stdout.splitlines()[-1] == f"4 figures copied into {committed}/box/"
    after = cells(committed)
    for combo, figure in after.items():
        case, backend, dtype = combo
        if backend in ("cuda", "mlx_gpu") and dtype == "float16":
            assert figure == run[combo] and not math.isnan(figure), combo
        else:  # the run also has float32 (its cuda slower) and mlx_cpu in float16: not selected
            assert figure == before[combo] or (math.isnan(figure) and math.isnan(before[combo])), combo
    assert str(cells(committed, gelu)) == str(gelu_before), "not matched by --bench"


def test_a_benchmark_the_target_lacks_is_added_with_the_copied_figures_alone(tmp_path):
    short_run, committed = tmp_path / "run", tmp_path / "committed"
    write_fake_results(short_run, "box", cuda=True, memory=True, slower=("ReLU / dim=128x16x1024", "cuda"))
    write_fake_results(committed, "box", cuda=True)
    latency_before = cells(committed)
    assert str(cells(short_run)) != str(latency_before), "the run's latency differs, so a copy of it would show"
    memory = "bench_activations.ReLU.track_peak_memory"
    merged = merge(str(short_run), "--machine", "box", "--into", str(committed), "--backends", "cuda",
                   "--bench", f"^{memory}$|SiLU.track_peak_memory")  # SiLU: skipped everywhere in the run
    assert merged.returncode == 0, merged.stderr
    result, = iter_results_for_machine(str(committed), "box")
    assert "bench_activations.SiLU.track_peak_memory" not in result.get_all_result_keys(), "nothing to copy: not added"
    added, run = cells(committed, memory), cells(short_run, memory)
    assert {combo for combo, peak in added.items() if not math.isnan(peak)} == {
        combo for combo, peak in run.items() if combo[1] == "cuda" and not math.isnan(peak)} != set()
    assert str(cells(committed)) == str(latency_before), "its latency, not selected by --bench, untouched"


def test_bad_input_is_one_line_and_leaves_the_target_as_it_was(tmp_path):
    short_run, committed = tmp_path / "run", tmp_path / "committed"
    write_fake_results(short_run, "box", cuda=True, half={"float16": 0.5})
    write_fake_results(committed, "box", cuda=True)
    target, = (committed / "box").glob("*-existing-fake.json")
    saved = target.read_bytes()
    other_release = tmp_path / "other"
    write_fake_results(other_release, "box", release="0.31.0")
    for args, message in (
            (["--backends", "cuda,gpu"], "unknown backend gpu: give some of"),
            (["--backends", "cuda", "--dtypes", "half"], "unknown dtype half"),
            (["--backends", "cuda", "--bench", "("], "is not a regular expression"),
            (["--backends", "mps", "--dtypes", "float16"], "the selection copies no figure"),
            (["--backends", "cuda", "--machine", "nobox"], "has no results of machine 'nobox'")):
        run = merge(str(short_run), "--machine", "box", "--into", str(committed), *args)
        assert run.returncode == 1 and message in run.stderr and run.stderr.count("\n") == 1, run.stderr
    run = merge(str(other_release), "--machine", "box", "--into", str(committed), "--backends", "cpu")
    assert run.returncode == 1 and "has no result of box for commit" in run.stderr, run.stderr
    assert target.read_bytes() == saved


def merge_in_process(*args):
    """The one-line error of a run of the tool in this process (where the os module can be patched), else None."""
    from tools import merge_results

    try:
        merge_results.main([*args])
    except SystemExit as exit:
        return exit.code
    return None


def make_immutable(monkeypatch, path, calls=("mkdir", "link", "replace", "rename")):
    """Have the os module's `calls` refuse, as for an immutable file or folder (`chattr +i`), to create, link, rename
    or replace `path` or an entry of it: root writes where chmod forbids, and only root may chattr."""
    path = os.path.abspath(path)

    def touches(name, args):
        entries = [args[0]] if name == "mkdir" else [args[1]] if name == "link" else args[:2]  # created or removed
        return any(os.path.abspath(entry) == path or os.path.dirname(os.path.abspath(entry)) == path
                   for entry in entries) or (name == "link" and os.path.abspath(args[0]) == path)

    for name in calls:
        def refusing(*args, name=name, real=getattr(os, name), **kwargs):
            if touches(name, args):
                raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), os.fspath(args[0]))
            return real(*args, **kwargs)
        monkeypatch.setattr(os, name, refusing)


def folder_state(folder):
    return {path.name: path.read_bytes() for path in sorted(Path(folder).rglob("*")) if path.is_file()}


@pytest.mark.parametrize("unwritable, named", [("committed", "in {committed}"), ("committed/box", "{committed}/box/")])
def test_an_unwritable_target_folder_is_one_line_and_changes_nothing(tmp_path, monkeypatch, unwritable, named):
    short_run, committed = tmp_path / "run", tmp_path / "committed"
    write_fake_results(short_run, "box", cuda=True, slower=("ReLU / dim=128x16x1024", "cuda"))
    write_fake_results(committed, "box", cuda=True)
    before = folder_state(committed)
    make_immutable(monkeypatch, tmp_path / unwritable)
    error = merge_in_process(str(short_run), "--machine", "box", "--into", str(committed), "--backends", "cuda")
    assert error.startswith(f"error: cannot write {named.format(committed=committed)}") and "\n" not in error, error
    assert "(Operation not permitted): make it writable, then merge again; nothing was changed" in error, error
    monkeypatch.undo()
    assert folder_state(committed) == before and sorted(committed.iterdir()) == [committed / "box"]


@pytest.mark.parametrize("calls", [("link", "replace"), ("replace",)], ids=["immutable", "refused-when-replaced"])
def test_a_days_file_that_cannot_be_replaced_leaves_the_result_file_as_it_was(tmp_path, monkeypatch, calls):
    short_run, committed = tmp_path / "run", tmp_path / "committed"
    write_fake_results(short_run, "box", cuda=True, slower=("ReLU / dim=128x16x1024", "cuda"))
    write_fake_results(committed, "box", cuda=True)
    dates = committed / "box" / "figure-dates.tsv"
    dates.write_text("")
    before = folder_state(committed)
    make_immutable(monkeypatch, dates, calls)  # refused-when-replaced: once the result file is already in place
    error = merge_in_process(str(short_run), "--machine", "box", "--into", str(committed), "--backends", "cuda")
    assert error.startswith(f"error: cannot write {dates} (Operation not permitted)") and "\n" not in error, error
    monkeypatch.undo()
    assert folder_state(committed) == before and sorted(committed.iterdir()) == [committed / "box"]


def truncate(path):
    path.write_text(path.read_text()[:500])


def reshape(**fields):
    """A change of a result file that keeps it valid JSON: its `fields` replaced (None: removed)."""
    def change(path):
        data = json.loads(path.read_text())
        for field, value in fields.items():
            data.pop(field) if value is None else data.__setitem__(field, value)
        path.write_text(json.dumps(data))
    return change


def short_row(path):
    data = json.loads(path.read_text())
    data["results"][RELU][0] = data["results"][RELU][0][:3]
    path.write_text(json.dumps(data))


BROKEN = {"truncated": (truncate, "cannot be read as an asv result file (Error parsing JSON"),
          "results-a-list": (reshape(results=[]), "cannot be read as an asv result file"),
          "no-commit_hash": (reshape(commit_hash=None), "missing key 'commit_hash'"),
          "commit_hash-a-number": (reshape(commit_hash=7), "cannot be read as an asv result file"),
          "a-row-too-short": (short_row, f"{RELU}: 3 values for 36 parameter combinations")}


@pytest.mark.parametrize("damage", BROKEN.values(), ids=BROKEN.keys())
def test_an_unreadable_source_file_is_named_not_the_options(tmp_path, damage):
    short_run, committed = tmp_path / "run", tmp_path / "committed"
    write_fake_results(short_run, "box", cuda=True)
    write_fake_results(committed, "box", cuda=True)
    before = folder_state(committed)
    source, = (short_run / "box").glob("*-existing-fake.json")
    change, reason = damage
    change(source)
    run = merge(str(short_run), "--machine", "box", "--into", str(committed), "--backends", "cuda", "--bench", "ReLU")
    assert run.returncode == 1 and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith(f"error: {source} ") and reason in run.stderr, run.stderr
    assert "copy it from the run again" in run.stderr, run.stderr
    assert folder_state(committed) == before


def test_a_source_without_its_machine_file_is_named_not_the_options(tmp_path):
    short_run, committed = tmp_path / "run", tmp_path / "committed"
    write_fake_results(short_run, "box", cuda=True)
    write_fake_results(committed, "box", cuda=True)
    (short_run / "box" / "machine.json").unlink()
    run = merge(str(short_run), "--machine", "box", "--into", str(committed), "--backends", "cuda")
    assert run.returncode == 1 and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith(f"error: {short_run}/box/machine.json cannot be read (No such file"), run.stderr


@pytest.mark.parametrize("damage", [*BROKEN.values(), (lambda path: (path.parent / "machine.json").unlink(),
                                                        "machine.json cannot be read (No such file")],
                         ids=[*BROKEN.keys(), "no-machine.json"])
def test_an_unreadable_target_file_is_named_with_how_to_restore_it(tmp_path, damage):
    short_run, committed = tmp_path / "run", tmp_path / "committed"
    write_fake_results(short_run, "box", cuda=True)
    write_fake_results(committed, "box", cuda=True)
    target, = (committed / "box").glob("*-existing-fake.json")
    change, reason = damage
    change(target)
    before = folder_state(committed)
    run = merge(str(short_run), "--machine", "box", "--into", str(committed), "--backends", "cuda", "--bench", "ReLU")
    assert run.returncode == 1 and run.stderr.count("\n") == 1, run.stderr
    assert reason in run.stderr and "copy that file" not in run.stderr, run.stderr
    broken = target if target.exists() and "machine.json" not in reason else committed / "box" / "machine.json"
    assert run.stderr.startswith(f"error: {broken} ") and f"restore it (git checkout -- {broken})" in run.stderr
    assert folder_state(committed) == before
