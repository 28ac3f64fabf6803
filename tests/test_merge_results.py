"""Copying a short run's figures into another results folder (tools.merge_results)."""

import itertools
import math
import subprocess
import sys

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
