"""The day of each figure (tools/figure_dates.py): `make bench` dates what its runs changed,
tools.merge_results what it copies, the tables print the days, and git dates what was committed before."""

import errno
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from tests_support import write_fake_results
from tools import figure_dates, speedup_table, timeline

RELU = "bench_activations.ReLU.time_latency"
RELU_CUDA = "'dim=128x16x1024', 'cuda', 'float32'"
COMMIT = timeline.build()["0.32.4"]
GIT_ENV = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")


def table(results_dir, *args):
    return subprocess.run([sys.executable, "-m", "tools.speedup_table", "--results", str(results_dir), "--machine",
                           "box", *args], cwd=ROOT, capture_output=True, text=True)


def commit_all(repo, day):
    """A commit of the whole tree, made at noon (UTC) of `day`."""
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=GIT_ENV)
    subprocess.run(["git", "commit", "-qm", day], cwd=repo, check=True,
                   env=dict(GIT_ENV, GIT_COMMITTER_DATE=f"{day}T12:00:00Z", GIT_AUTHOR_DATE=f"{day}T12:00:00Z"))


def from_git(results_dir, machine="box"):
    return subprocess.run([sys.executable, "-m", "tools.figure_dates", "--results", str(results_dir), "--machine",
                           machine, "--from-git"], cwd=ROOT, capture_output=True, text=True)


def test_a_run_dates_the_figures_it_changed_and_only_those(tmp_path):
    write_fake_results(tmp_path, "box", cuda=True)
    before = figure_dates.figures(tmp_path, "box")
    assert before and all(key[0] == COMMIT for key in before)
    write_fake_results(tmp_path, "box", cuda=True, slower=("ReLU / dim=128x16x1024", "cuda"))  # one figure differs
    assert figure_dates.record(tmp_path, "box", before, "2026-12-06") == 1
    assert figure_dates.read(tmp_path, "box") == {COMMIT: {RELU: {RELU_CUDA: "2026-12-06"}}}
    assert figure_dates.record(tmp_path, "box", figure_dates.figures(tmp_path, "box"), "2026-12-07") == 0, \
        "a run that changed nothing dates nothing"
    assert (tmp_path / "box" / figure_dates.FILE).read_text() == f"{COMMIT}\t{RELU}\t{RELU_CUDA}\t2026-12-06\n"


def test_the_table_names_the_days_of_its_figures_and_each_columns_where_they_differ(tmp_path):
    write_fake_results(tmp_path, "box", cuda=True)
    assert "measured" not in table(tmp_path).stdout.splitlines()[0], "no file: no day claimed"
    figure_dates.record(tmp_path, "box", {}, "2026-12-06")
    first = table(tmp_path).stdout.splitlines()
    assert first[0].endswith("; measured 2026-12-06**") and not any(line.startswith("Measured") for line in first)
    dates = figure_dates.read(tmp_path, "box")
    for name, days in dates[COMMIT].items():
        days.update({params: "2026-12-05" for params in days if ", 'cuda'" in params})
    figure_dates.write(tmp_path, "box", dates)
    dates[COMMIT][RELU][RELU_CUDA] = "2026-11-25"
    figure_dates.write(tmp_path, "box", dates)
    lines = table(tmp_path).stdout.splitlines()
    assert lines[0].endswith("; measured 2026-11-25 to 2026-12-06**")
    assert lines[-1] == ("Measured (UTC days): mlx_gpu 2026-12-06; mlx_cpu 2026-12-06; cpu 2026-12-06; "
                         "cuda 2026-11-25 (1), 2026-12-05 (60)"), lines[-1]
    assert table(tmp_path, "--format", "csv").stdout.splitlines()[1].count("2026-12-06") == 3
    (tmp_path / "box" / figure_dates.FILE).write_text("not a line of days\n")
    refused = table(tmp_path)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert refused.stderr.startswith(f"error: {tmp_path / 'box' / figure_dates.FILE}:1: expected 'COMMIT<tab>")


def test_a_merge_keeps_the_days_of_the_figures_it_copies(tmp_path):
    short_run, committed = tmp_path / "run", tmp_path / "committed"
    write_fake_results(short_run, "box", cuda=True, slower=("ReLU / dim=128x16x1024", "cuda"))
    write_fake_results(committed, "box", cuda=True)
    figure_dates.write(short_run, "box", {COMMIT: {RELU: {RELU_CUDA: "2026-01-02"}}})

    def merge(bench):
        return subprocess.run([sys.executable, "-m", "tools.merge_results", str(short_run), "--machine", "box",
                               "--into", str(committed), "--backends", "cuda", "--bench", bench], cwd=ROOT,
                              capture_output=True, text=True)

    assert merge(r"\.ReLU\.time_latency").returncode == 0
    assert figure_dates.read(committed, "box") == {COMMIT: {RELU: {
        RELU_CUDA: "2026-01-02", "'dim=64x128x1024', 'cuda', 'float32'": figure_dates.today()}}}, \
        "the run's own day, else asv's start of the benchmark in it (today, in these fake results)"


def test_git_dates_each_committed_figure_by_the_commit_from_which_on_it_is_as_now(tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    write_fake_results(repo / "results", "box", cuda=True)
    commit_all(repo, "2026-11-25")
    write_fake_results(repo / "results", "box", cuda=True, slower=("ReLU / dim=128x16x1024", "cuda"))
    commit_all(repo, "2026-12-06")
    days = figure_dates.from_history(repo / "results", "box")[COMMIT]
    assert days[RELU][RELU_CUDA] == "2026-12-06"
    assert {day for name, by in days.items() for params, day in by.items() if params != RELU_CUDA} == {"2026-11-25"}
    run = from_git(repo / "results")
    assert run.returncode == 0 and run.stdout.startswith(f"{sum(map(len, days.values()))} figures dated from git")
    assert figure_dates.read(repo / "results", "box") == {COMMIT: days}
    refused = from_git(repo / "results", "nobox")
    expected = f"error: no results of machine 'nobox' in {repo / 'results'}; name one of its folders\n"
    assert refused.returncode == 1 and refused.stderr == expected


def test_git_dating_names_a_result_file_asv_cannot_read_and_passes_over_such_a_committed_version(tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    write_fake_results(repo / "results", "box", cuda=True)
    (result,) = (path for path in (repo / "results" / "box").glob("*.json") if path.name != "machine.json")
    whole = result.read_text()
    result.write_text(whole[:100])  # cut short, as by a full disk
    commit_all(repo, "2026-11-25")
    result.write_text(whole)
    commit_all(repo, "2026-12-06")
    run = from_git(repo / "results")
    assert run.returncode == 0, run.stderr
    days = figure_dates.read(repo / "results", "box")[COMMIT]
    assert {day for by in days.values() for day in by.values()} == {"2026-12-06"}, "none held before the repair"
    dated = (repo / "results" / "box" / figure_dates.FILE).read_text()
    result.write_text(whole[:100])
    refused = from_git(repo / "results")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith(f"error: {result} is not an asv result file (Error parsing JSON")
    assert refused.stderr.endswith(f"; restore it (git checkout) or move it out of {result.parent}\n")
    assert (repo / "results" / "box" / figure_dates.FILE).read_text() == dated


def test_git_dating_that_cannot_write_its_file_says_so_in_one_line_and_changes_nothing(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    write_fake_results(repo / "results", "box", cuda=True)
    commit_all(repo, "2026-11-25")
    figure_dates.write(repo / "results", "box", {COMMIT: {RELU: {RELU_CUDA: "2026-01-02"}}})
    folder, dates = repo / "results" / "box", repo / "results" / "box" / figure_dates.FILE
    files, dated = sorted(os.listdir(folder)), dates.read_text()

    def immutable(*args, **kwargs):  # as `chattr +i` refuses even root; chmod does not
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))

    monkeypatch.setattr(os, "replace", immutable)
    with pytest.raises(SystemExit) as refused:
        figure_dates.main(["--results", str(repo / "results"), "--machine", "box", "--from-git"])
    assert refused.value.code == (f"error: cannot write {dates} (Operation not permitted); make it and its folder "
                                  "writable, then run again: nothing was changed")
    assert sorted(os.listdir(folder)) == files and dates.read_text() == dated, "no temporary left, the file as it was"


@pytest.mark.parametrize("rows, words, line", [
    ([{"days": {"cuda": None}}], "", ""),
    ([{"days": {"cuda": "2026-12-06", "cpu": None}}], "measured 2026-12-06 (1 figures of no recorded day)", ""),
])
def test_days_note_says_what_is_known(rows, words, line):
    assert speedup_table.days_note(rows, ["cpu", "cuda"]) == (words, line)
