"""The suite under asv itself: `asv check`, a quick real run read back by asv, skipping and
restricting backends, and a case that raises on one backend failing alone."""

import argparse
import importlib.metadata
import itertools
import json
import math
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import textwrap

import pytest
from asv import results as asv_results
from asv import util as asv_util

from benchmarks.common import BACKEND_NAMES, BACKENDS, OpBenchmark, selected_backends
from conftest import ROOT
from tests_support import (HEAP_EDGES, cells_of, interrupts_all_on, project_copy, stand_in_interrupts,
                           stand_in_wakeup_request, write_fake_results)
from tools import figure_dates, timeline
from tools.gpu_interrupts import cpu_list

MACHINE = "pytest-box"


def asv(args, tmp_path, backends="mlx_cpu,cpu", benchmark_dir=None, check=True):
    """Run asv on a copy of the project's config whose results and html go to tmp_path."""
    config = asv_util.load_json(ROOT / "asv.conf.json", js_comments=True)
    config.update(
        repo=str(timeline.REPO),
        benchmark_dir=str(benchmark_dir or ROOT / "benchmarks"),
        results_dir=str(tmp_path / "results"),
        html_dir=str(tmp_path / "html"),
        env_dir=str(tmp_path / "env"),
        plugins=[],  # the timeline plugin imports from the project's root; these runs start in tmp_path
    )
    config_path = tmp_path / "asv.conf.json"
    config_path.write_text(json.dumps(config))
    env = dict(os.environ, MLXBENCH_BACKENDS=backends, HOME=str(tmp_path))
    run = subprocess.run(
        [sys.executable, "-m", "asv", "--config", str(config_path), *args],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900,
    )
    if check:
        assert run.returncode == 0, run.stdout + run.stderr
    return run


def quick_run(tmp_path, bench, backends="mlx_cpu,cpu", benchmark_dir=None, some_fail=False):
    asv(["machine", "--machine", MACHINE, "--yes"], tmp_path)
    commit = timeline.build()[importlib.metadata.version("mlx")]
    run = asv(
        ["run", "--python=same", "--quick", "--show-stderr", "--machine", MACHINE, "--set-commit-hash", commit,
         "--bench", bench],
        tmp_path, backends, benchmark_dir, check=False,
    )
    assert run.returncode == (2 if some_fail else 0), run.stdout + run.stderr  # 2: some benchmark failed
    loaded = list(asv_results.iter_results_for_machine(str(tmp_path / "results"), MACHINE))
    assert len(loaded) == 1, run.stdout
    return run, loaded[0], commit


def by_backend(result, benchmark, case, dtype="float32"):
    params = result.get_result_params(benchmark)
    values = result.get_result_value(benchmark, params)
    combos = [[value.strip("'") for value in combo] for combo in itertools.product(*params)]
    return {backend: value for (label, backend, *modes), value in zip(combos, values)
            if label == case and modes in ([], [dtype])}


def test_asv_check_finds_no_problem(tmp_path):
    run = asv(["check", "--python=same"], tmp_path)
    assert "No problems found" in run.stdout


def test_the_suite_keeps_the_asv_versions_its_committed_results_were_measured_under():
    # asv versions a benchmark by the text of its `time_` method and `setup`: a change there, a comment
    # too, makes asv's site, `asv compare` and merges drop every committed figure of that benchmark.
    from tools.bench import discovered_benchmarks
    listed = {bench["name"]: bench["version"] for bench in discovered_benchmarks()}
    committed = [path for path in (ROOT / "results").glob("*/*.json") if path.name != "machine.json"]
    assert committed, "the committed results are there to check against"
    for path in committed:
        result = asv_results.Results.load(str(path))
        changed = sorted(name for name, version in result.benchmark_version.items() if listed.get(name) != version)
        assert not changed, (f"{path.relative_to(ROOT)}: {changed[:3]} changed their asv version; keep the text of "
                             "`setup` and the `time_` methods (change what they call), or re-measure those figures")


def test_quick_run_times_present_backends_skips_missing_ones_and_asv_reads_it_back(tmp_path):
    run, result, commit = quick_run(tmp_path, r"^bench_reductions\.Argmax\.", backends="")
    name = "bench_reductions.Argmax.time_latency"
    times = by_backend(result, name, "dim=64x1024x128 axi=1")
    assert run.returncode == 0
    for backend, time in times.items():
        missing = BACKENDS[backend].unavailable_reason()
        if missing:
            assert math.isnan(time), f"{backend} is missing here and should be skipped (NaN), got {time}"
            assert f"skipped: NotImplementedError('{backend}: {missing}" in run.stdout
        else:
            assert time > 0, f"{backend} is present and should have a time"
    assert times["mlx_cpu"] > 0 and times["cpu"] > 0

    show = asv(["show", commit[:8], "--machine", MACHINE], tmp_path).stdout
    assert name in show and "dim=64x1024x128 axi=1" in show
    assert "n/a" in show and "failed" not in show

    asv(["publish"], tmp_path)
    graph = tmp_path / "html" / "graphs" / "branch-main" / f"machine-{MACHINE}"
    assert (tmp_path / "html" / "index.html").exists() and list(graph.rglob(f"{name}.json"))


def test_restrict_variable_skips_backends_that_are_present(tmp_path):
    _, result, _ = quick_run(tmp_path, r"^bench_activations\.ReLU\.", backends="cpu")
    times = by_backend(result, "bench_activations.ReLU.time_latency", "dim=128x16x1024")
    assert times["cpu"] > 0 and math.isnan(times["mlx_cpu"])


def test_unknown_backend_name_is_one_clear_error():
    with pytest.raises(ValueError, match=r"unknown backend tpu; use a comma-separated subset of mlx_gpu,"):
        selected_backends("cpu,tpu")
    assert selected_backends(" cpu , mlx_cpu ") == ("cpu", "mlx_cpu")
    assert selected_backends("") == BACKEND_NAMES


@pytest.mark.parametrize("variable, value, message", [
    ("MLXBENCH_BACKENDS", "mlx_cpu,gpu", "MLXBENCH_BACKENDS='mlx_cpu,gpu' names unknown backend gpu"),
    ("MLXBENCH_DTYPES", "float32,half", "MLXBENCH_DTYPES='float32,half' names unknown dtype half"),
])
def test_a_typo_in_a_selection_stops_asv_before_anything_runs(tmp_path, monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    run = asv(["check", "--python=same"], tmp_path, backends=os.environ.get("MLXBENCH_BACKENDS", ""), check=False)
    assert run.returncode != 0 and f"error: {message}" in run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr, "the suite's one line, not a traceback"


@pytest.mark.parametrize("tool, variable, value", [
    (["tools.speedup_table"], "MLXBENCH_BACKENDS", "cpu,cpuu"),
    (["tools.compare", "--releases", "0.32.3", "0.32.4"], "MLXBENCH_DTYPES", "float61"),
    (["tools.plot", "families"], "MLXBENCH_PRECISIONS", "tf3"),
    (["tools.ceilings"], "MLXBENCH_BACKENDS", "gpu"),
    (["tools.fidelity"], "MLXBENCH_DTYPES", "half"),
    (["tools.stability", "results", "results"], "MLXBENCH_PRECISIONS", "fp32"),
])
def test_a_typo_in_a_selection_stops_every_tool_in_one_line(tool, variable, value):
    run = subprocess.run([sys.executable, "-m", *tool], cwd=ROOT, env=dict(os.environ, **{variable: value}),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and run.stdout == "" and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith(f"error: {variable}={value!r} names unknown ")


def test_dtypes_variable_runs_the_dtypes_it_names_and_skips_the_rest(tmp_path, monkeypatch):
    monkeypatch.setenv("MLXBENCH_DTYPES", "float32,bfloat16")
    run, result, _ = quick_run(tmp_path, r"^bench_activations\.ReLU\.time_latency", backends="mlx_cpu,cpu")
    for dtype, ran in (("float32", True), ("bfloat16", True), ("float16", False)):
        times = by_backend(result, "bench_activations.ReLU.time_latency", "dim=128x16x1024", dtype)
        for backend in ("mlx_cpu", "cpu"):
            assert (times[backend] > 0) if ran else math.isnan(times[backend]), (dtype, backend, times)
    # A backend left out is skipped by setup, which says so; an unselected dtype never reaches setup.
    assert "For parameters: 'dim=128x16x1024', 'mlx_gpu', 'bfloat16'" in run.stdout
    assert "'float16'" not in run.stdout


def test_a_case_that_raises_or_kills_its_process_fails_alone(tmp_path):
    bench_dir = tmp_path / "faulty_benchmarks"
    bench_dir.mkdir()
    (bench_dir / "__init__.py").write_text("")
    for name in ("common.py", "backends.py"):
        shutil.copy(ROOT / "benchmarks" / name, bench_dir)
    (bench_dir / "bench_faulty.py").write_text(textwrap.dedent('''
        import os

        from .common import OpBenchmark, mx, torch

        class Negate(OpBenchmark):
            # dim=10: the process aborts, as on a GPU fault; dim=1000: MLX raises.
            cases = ["dim=10", "dim=1000", "dim=100000"]

            def numpy(self, x):
                return -x

            def mlx(self, x):
                if x.size == 10:
                    os.abort()
                if x.size == 1000:
                    raise RuntimeError("simulated MLX kernel error")
                return mx.negative(x)

            def torch(self, x):
                return torch.neg(x)

        class Reciprocal(OpBenchmark):
            cases = ["dim=1000"]

            def numpy(self, x):
                return 1 / x

            def mlx(self, x):
                return mx.reciprocal(x)

            def torch(self, x):
                return torch.reciprocal(x)
    '''))
    run, result, _ = quick_run(tmp_path, "Negate|Reciprocal", benchmark_dir=bench_dir, some_fail=True)
    name = "bench_faulty.Negate.time_latency"
    aborted, raised, fine = (by_backend(result, name, case) for case in ("dim=10", "dim=1000", "dim=100000"))
    assert aborted["mlx_cpu"] is None and raised["mlx_cpu"] is None, "both faults are recorded as failed (None)"
    assert aborted["cpu"] > 0 and raised["cpu"] > 0 and fine["mlx_cpu"] > 0 and fine["cpu"] > 0
    after = by_backend(result, "bench_faulty.Reciprocal.time_latency", "dim=1000")
    assert after["mlx_cpu"] > 0 and after["cpu"] > 0, "the benchmark after the fault ran and was saved"
    assert "For parameters: 'dim=1000', 'mlx_cpu'" in run.stdout and "simulated MLX kernel error" in run.stdout


def bench(*args, backends="", home=None, cwd=ROOT):
    env = dict(os.environ, MLXBENCH_BACKENDS=backends, **({"HOME": str(home)} if home else {}))
    return subprocess.run([sys.executable, "-m", "tools.bench", *args], cwd=cwd, env=env, capture_output=True,
                          text=True)


def test_make_clean_deletes_the_project_folders_alone_whatever_venv_is_given():
    dry_run = subprocess.run(["make", "--no-print-directory", "-n", "clean", "VENV=.."], cwd=ROOT, capture_output=True,
                             text=True)  # under `make test` a make within make would also say where it is
    assert dry_run.returncode == 0, dry_run.stderr
    assert dry_run.stdout.split() == ["rm", "-rf", ".venv", ".asv", "html", "html-upstream"]


def test_main_job_refuses_an_unknown_backend_in_one_line_before_running():
    run = bench("--quick", backends="mlx_cpu,tpu")
    assert run.returncode == 1 and run.stderr.strip().count("\n") == 0
    assert "names unknown backend tpu" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("args, message", [
    (["--quik"], "error: asv run does not accept '--quik': unrecognized arguments: --quik"),
    (["--quick", "--bench", "Floor("], "error: asv run does not accept '--quick --bench Floor(': --bench 'Floor(' is "
                                      "not a regular expression"),
    (["--machine", "a/b"], "error: machine name 'a/b' cannot name a folder of results/"),
    (["--machine", ""], "error: machine name '' cannot name a folder of results/"),
])
def test_main_job_refuses_bad_options_in_one_line_and_touches_no_result(tmp_path, args, message):
    # asv exits 2 on a usage error, as on a run with failed cases: checked before anything is written.
    project = project_copy(tmp_path, {"bench_floor.py": None})
    write_fake_results(project / "results", "box")
    before = {path: path.stat().st_mtime_ns for path in (project / "results").rglob("*")}
    run = bench("--machine", "box", *args, backends="cpu", home=tmp_path, cwd=project)
    assert run.returncode == 1 and run.stderr.startswith(message) and run.stderr.count("\n") == 1, run.stderr
    assert {path: path.stat().st_mtime_ns for path in (project / "results").rglob("*")} == before


ABSENT_HERE = [name for name in BACKEND_NAMES if BACKENDS[name].unavailable_reason()]


@pytest.mark.skipif(not ABSENT_HERE, reason="every backend can run on this machine")
def test_main_job_with_no_backend_that_can_run_here_is_one_line_and_leaves_no_file(tmp_path):
    run = bench("--machine", "pytest-no-backend", "--quick", backends=ABSENT_HERE[0], home=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith(
        f"error: none of the backends selected ({ABSENT_HERE[0]}) can run on this machine; set MLXBENCH_BACKENDS to")
    assert not (ROOT / "results" / "pytest-no-backend").exists()


def test_main_job_of_the_floor_alone_keeps_its_figures_and_makes_no_table(tmp_path):
    project = project_copy(tmp_path, {"bench_floor.py": None})
    run = bench("--machine", "box", "--quick", "--bench", "Floor", backends="cpu", home=tmp_path, cwd=project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "note: the selection ran no row of the tables (the floor heads them)" in run.stdout
    assert re.search(r"^time: CPU pass \(cpu\): 1 asv run, \d+ s, 1 figure, [\d.]+ s a figure$", run.stdout, re.M), \
        "one module: one run; one figure new"
    result, = asv_results.iter_results_for_machine(str(project / "results"), "box")
    assert by_backend(result, "bench_floor.Floor.time_latency", "dim=1")["cpu"] > 0
    assert not list((project / "results" / "box").glob("*.md"))


def test_main_job_with_an_empty_selection_is_one_clear_line_and_leaves_no_file(tmp_path):
    project = project_copy(tmp_path, {"bench_floor.py": None})
    run = bench("--machine", "box", "--quick", "--bench", "NoSuchBenchmark", backends="cpu", home=tmp_path,
                cwd=project)
    assert run.returncode == 1 and "'--quick --bench NoSuchBenchmark' selects no benchmark" in run.stderr
    assert set((project / "results").rglob("*")) <= {project / "results" / name for name in (
        "benchmarks.json", "box", "box/machine.json")}, "no log, no partial log, no table"
    assert (project / "results" / "box").is_dir() == (project / "results" / "box" / "machine.json").is_file(), \
        "no empty folder for a machine whose run never started"


def test_throughput_is_skipped_off_the_gpu_before_any_setup_and_the_floor_runs(tmp_path):
    run, result, _ = quick_run(tmp_path, r"^bench_floor\.", backends="")
    latency = by_backend(result, "bench_floor.Floor.time_latency", "dim=1")
    throughput = by_backend(result, "bench_floor.Floor.time_throughput", "dim=1")
    assert latency["mlx_cpu"] > 0 and latency["cpu"] > 0
    for backend in ("mlx_cpu", "cpu"):
        assert math.isnan(throughput[backend]), "throughput is a GPU figure: skipped on CPU backends"
    for backend in ("mlx_gpu", "mps", "cuda"):
        assert (throughput[backend] > 0) == (BACKENDS[backend].unavailable_reason() is None)


def test_main_job_refuses_an_unknown_or_impossible_precision_mode_in_one_line():
    env = dict(os.environ, MLXBENCH_BACKENDS="cpu,mlx_cpu")
    for precisions, message in (("fp8", "names unknown precision mode fp8"),
                                ("tf32", "asks for TF32, which none of the backends here has (cpu, mlx_cpu)")):
        run = subprocess.run([sys.executable, "-m", "tools.bench", "--quick"], cwd=ROOT, capture_output=True,
                             text=True, env=dict(env, MLXBENCH_PRECISIONS=precisions))
        assert run.returncode == 1 and message in run.stderr and run.stderr.strip().count("\n") == 0


def test_precision_variable_skips_the_other_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("MLXBENCH_PRECISIONS", "tf32")
    _, result, _ = quick_run(tmp_path, r"^bench_linalg\.MatMul\.time_latency", backends="cpu")
    params = result.get_result_params("bench_linalg.MatMul.time_latency")
    values = result.get_result_value("bench_linalg.MatMul.time_latency", params)
    assert all(value is not None and math.isnan(value) for value in values), "strict skipped, tf32 has no CPU mode"


def test_plain_asv_in_a_fresh_checkout_builds_the_timeline_itself(tmp_path):
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(checkout)], check=True)
    env = dict(os.environ, HOME=str(tmp_path))
    run = subprocess.run([sys.executable, "-m", "asv", "check", "--python=same"], cwd=checkout, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "No problems found" in run.stdout, run.stdout + run.stderr
    assert timeline.hashes(checkout / ".asv" / "mlx-timeline") == timeline.hashes()


def asv_selected(run_args, name, params):
    """The parameter combinations (tuples of values) of benchmark `name` ("module.Class.method") with
    `params` that `asv run` with `run_args` would run, by asv's own parser and filter."""
    from asv.benchmarks import Benchmarks
    from asv.commands import make_argparser

    regexes = make_argparser()[0].parse_args(["run", *run_args]).bench
    found = [{"name": name, "params": [[repr(value) for value in values] for values in params]}]
    selection = Benchmarks(argparse.Namespace(benchmark_dir="."), found, regex=regexes).benchmark_selection
    combinations = list(itertools.product(*params))
    return {combinations[i] for i in selection.get(name, [])}


def asv_selection(run_args, names):
    """The benchmarks of `names` that `asv run` with `run_args` would run (a case and backend for each)."""
    return {name for name in names if asv_selected(run_args, name, [["dim=1"], ["cpu"]])}


def run_of(module):
    """The log name part of the asv run (`tools.bench.runs`) that takes `module`."""
    from tools.bench import module_groups
    return next("-" + "+".join(group) for group in module_groups() if module in group)


def test_main_job_runs_modules_in_three_groups_a_selection_too_and_starts_asv_only_where_it_selects():
    from tools.bench import discovered_benchmarks, module_groups, runs, selects_any
    modules = sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py"))
    names = ["bench_activations.ReLU.time_latency", "bench_activations.Softmax.time_latency",
             "bench_floor.Floor.time_latency", "bench_reductions.Sort.time_latency",
             "bench_reductions.Sum.time_latency"]
    groups = module_groups()
    assert len(groups) == 3 and sum(groups, []) == modules and max(map(len, groups)) - min(map(len, groups)) <= 1
    assert module_groups(["a"]) == [["a"]] and module_groups(["a", "b"]) == [["a"], ["b"]]
    assert module_groups(list("abcdefg")) == [list("ab"), list("cd"), list("efg")] and module_groups([]) == []
    assert [part for part, _ in runs(["--quick"])] == ["-" + "+".join(group) for group in groups]
    assert all(args[2:] == ["--quick"] for _, args in runs(["--quick"]))
    first = asv_selection(runs(["--quick"])[0][1], names)
    assert first == {"bench_activations.ReLU.time_latency", "bench_activations.Softmax.time_latency"}
    assert asv_selection(runs(["--quick"])[1][1], names) == {"bench_floor.Floor.time_latency"}
    benchmarks = discovered_benchmarks()
    assert {benchmark["name"] for benchmark in benchmarks} >= set(names)
    for own, selected in ((["--bench", "Softmax"],
                           {run_of("bench_activations"): {"bench_activations.Softmax.time_latency"}}),
                          (["-b", "So", "--quick"],
                           {run_of("bench_activations"): {"bench_activations.Softmax.time_latency"},
                            run_of("bench_reductions"): {"bench_reductions.Sort.time_latency"}})):
        module_runs = dict(runs(own))
        assert list(module_runs) == [part for part, _ in runs(["--quick"])], "a run cut short costs its group"
        assert {part: asv_selection(args, names) for part, args in module_runs.items()
                if asv_selection(args, names)} == selected
        assert [part for part, args in module_runs.items() if selects_any(args, benchmarks)] == list(selected)
    assert all(selects_any(args, None) for _, args in runs(["-b", "Softmax"])), "no listing: asv's run decides"


def test_a_selection_ending_in_dollar_selects_nothing_and_its_error_says_what_selects():
    from tools.bench import discovered_benchmarks, no_selection_error, runs, selects_any
    benchmarks = discovered_benchmarks()

    def modules_selected(pattern):
        return [part for part, args in runs(["--bench", pattern]) if selects_any(args, benchmarks)]

    assert modules_selected(r"^bench_convolution\..*time_latency$") == [], "asv matches name(params) only"
    assert modules_selected(r"^bench_convolution\..*time_latency\(") == [run_of("bench_convolution")]
    assert "end the pattern with '\\(' instead of '$'" in no_selection_error(["--bench", "time_latency$"])
    assert "instead of" not in no_selection_error(["--quick", "--bench", "NoSuchBenchmark"])


def test_main_job_runs_the_gpu_backends_in_passes_of_their_own_that_add_up_their_samples():
    from benchmarks.common import OpBenchmark
    from tools.bench import backend_groups

    groups = backend_groups(["mlx_gpu", "mlx_cpu", "cpu", "cuda"])
    assert OpBenchmark.rounds == 1 and OpBenchmark.gpu_rounds == 3
    # (log suffix, backends, asv options, measures memory, asv runs by groups of modules)
    assert groups == [("", ["mlx_cpu", "cpu"], [], True, True),
                      ("-gpu-round1", ["mlx_gpu", "cuda"], ["--record-samples"], True, False),
                      ("-gpu-round2", ["mlx_gpu", "cuda"], ["--append-samples"], False, False),
                      ("-gpu-round3", ["mlx_gpu", "cuda"], ["--append-samples"], False, False)], \
        "memory in the first only; the CPU pass in groups of modules, a GPU pass in one run"
    assert backend_groups(["mlx_gpu", "cpu"], quick=True) == [("", ["cpu"], [], True, True),
                                                              ("-gpu", ["mlx_gpu"], [], True, False)]
    assert backend_groups(["mlx_cpu", "cpu"]) == [("", ["mlx_cpu", "cpu"], [], True, True)], \
        "a machine without a GPU: one pass"
    assert backend_groups(["cuda"], gpu_rounds=1) == [("-gpu", ["cuda"], ["--record-samples"], True, False)], \
        "one process of full samples, kept: a later run can add its own"
    assert len(backend_groups(["cuda"], gpu_rounds=5)) == 5


def test_main_job_refuses_a_number_of_gpu_rounds_below_one_or_beside_quick(capsys):
    from tools import bench as main_job

    with pytest.raises(SystemExit) as exit_:
        main_job.main(["--gpu-rounds", "0"])
    assert exit_.value.code == 2 and "'0' is no number of asv runs: give one above 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main_job.main(["--gpu-rounds", "2", "--quick"])
    assert "--quick runs the GPU backends' cases once" in str(exit_.value.code)


def test_main_job_refuses_a_wake_up_latency_it_cannot_hold_before_any_pass(tmp_path, monkeypatch, capsys):
    from tools import bench as main_job, cpu_wakeup

    monkeypatch.setattr(cpu_wakeup, "REQUEST", str(tmp_path / "cpu_dma_latency"))
    with pytest.raises(SystemExit) as exit_:
        main_job.main(["--cpu-latency-us", "0", "--machine", "box", "--quick", "--bench", "NoSuchBenchmark"])
    assert str(exit_.value.code) == (f"error: cannot hold the CPUs' wake-up latency: {tmp_path / 'cpu_dma_latency'}: "
                                     "No such file or directory; run as root on Linux, or leave out --cpu-latency-us")
    assert not (main_job.RESULTS / "box").exists(), "refused before asv ran"
    with pytest.raises(SystemExit) as exit_:
        main_job.main(["--cpu-latency-us", "-1"])
    assert exit_.value.code == 2 and "'-1' is no number of microseconds" in capsys.readouterr().err


def test_the_gpu_passes_figure_is_the_median_of_all_their_samples(tmp_path):
    project = project_copy(tmp_path, {"bench_floor.py": None}, cpu_as_gpu=True)
    request = stand_in_wakeup_request(project, tmp_path)
    run = bench("--machine", "box", "--bench", r"Floor\.time_latency", "--cpu-latency-us", "5", backends="cpu",
                home=tmp_path, cwd=project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert struct.unpack("i", request.read_bytes()) == (5,) and re.search(
        r"^note: CPU idle states .*; held to a wake-up latency of 5 us.* during the GPU passes$", run.stdout, re.M), \
        "the limit held while the GPU passes ran"
    logs = sorted(path.name.split("-mlx-")[1] for path in (project / "results" / "box").glob("*.log"))
    assert logs == [f"{importlib.metadata.version('mlx')}-gpu-round{n}.log" for n in (1, 2, 3)], "a pass: one asv run"
    assert all(re.fullmatch(r"# make bench: asv run started 20\d\d-\d\d-\d\dT[\d:.]+Z\n", log.open().readline())
               for log in (project / "results" / "box").glob("*.log")), "each log says when its run started"
    passes = re.findall(r"^time: GPU pass (\d) \(cpu\): 1 asv run, (\d+) s, 1 figure, [\d.]+ s a figure$", run.stdout,
                        re.M)
    total, = re.findall(r"^time: all passes, (\d+) s$", run.stdout, re.M)
    assert [number for number, _ in passes] == ["1", "2", "3"] and int(total) >= max(int(s) for _, s in passes)
    assert re.search(r"^note: the median GPU figure's processes differed by x\d+\.\d{3} \(cpu\), highest over lowest"
                     r"(; above x1.05 the machine was busy .*)?$", run.stdout, re.M), "the three processes' spread"
    result, = asv_results.iter_results_for_machine(str(project / "results"), "box")
    name = "bench_floor.Floor.time_latency"
    params = result.get_result_params(name)
    backends = [combo[1].strip("'") for combo in itertools.product(*params)]
    samples = result.get_result_samples(name, params)[backends.index("cpu")]
    assert len(samples) > OpBenchmark.repeat[1], "more samples than one process takes: the passes' together"
    assert result.get_result_value(name, params)[backends.index("cpu")] == statistics.median(samples)


def floor_recording_its_cpus():
    """The suite's floor, whose torch call first appends the CPUs its process may use to $AFFINITY_LOG."""
    source = (ROOT / "benchmarks" / "bench_floor.py").read_text()
    call = "        return torch.add(x, 1)\n"
    assert call in source
    recording = ('        with open(os.environ["AFFINITY_LOG"], "a") as log:\n'
                 '            log.write(",".join(map(str, sorted(os.sched_getaffinity(0)))) + "\\n")\n')
    return "import os\n" + source.replace(call, recording + call)


def test_the_gpu_passes_run_off_the_cpus_that_take_the_gpus_interrupts_when_asked(tmp_path, monkeypatch):
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("one CPU allowed here: none would be left beside the interrupts' own")
    project = project_copy(tmp_path, {"bench_floor.py": floor_recording_its_cpus()}, cpu_as_gpu=True)
    taking = allowed[-1]
    stand_in_interrupts(tmp_path, interrupts_all_on(taking), delivered={"45": str(taking)}, project=project)
    log = tmp_path / "affinity.log"
    monkeypatch.setenv("AFFINITY_LOG", str(log))
    run = bench("--machine", "box", "--bench", r"Floor\.time_latency", "--gpu-rounds", "1", "--avoid-gpu-interrupts",
                backends="cpu", home=tmp_path, cwd=project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(log.read_text().split()) == {",".join(map(str, allowed[:-1]))}, \
        "every call of the GPU pass on the CPUs left"
    assert re.search(rf"^note: the GPU passes ran on CPUs {re.escape(cpu_list(allowed[:-1]))}; CPUs {taking} take "
                     r"the GPU's interrupts$", run.stdout, re.M), run.stdout
    refused = bench("--machine", "box", "--avoid-gpu-interrupts", "--cpu-affinity", "0", backends="cpu",
                    home=tmp_path, cwd=project)
    assert refused.returncode == 1 and refused.stderr.startswith(
        "error: --avoid-gpu-interrupts chooses the GPU passes' CPUs and asv's --cpu-affinity names some too")


SUITE_NAMES = ["bench_activations.ReLU.time_latency", "bench_activations.ReLU.time_throughput",
               "bench_activations.ReLU.track_peak_memory", "bench_reductions.Sort.time_latency",
               "bench_reductions.Sort.track_peak_memory"]
@pytest.mark.parametrize("user_args, without, with_memory", [
    ([], {"bench_activations.ReLU.time_latency", "bench_activations.ReLU.time_throughput",
          "bench_reductions.Sort.time_latency"},
     {"bench_activations.ReLU.time_latency", "bench_activations.ReLU.time_throughput",
      "bench_activations.ReLU.track_peak_memory", "bench_reductions.Sort.time_latency",
      "bench_reductions.Sort.track_peak_memory"}),
    (["--bench", "ReLU"], {"bench_activations.ReLU.time_latency", "bench_activations.ReLU.time_throughput"},
     {"bench_activations.ReLU.time_latency", "bench_activations.ReLU.time_throughput",
      "bench_activations.ReLU.track_peak_memory"}),
    (["-b^bench_reductions", "--bench=ReLU.time_l"],
     {"bench_reductions.Sort.time_latency", "bench_activations.ReLU.time_latency"},
     {"bench_reductions.Sort.time_latency", "bench_reductions.Sort.track_peak_memory",
      "bench_activations.ReLU.time_latency"}),
    (["--quick", "--bench", "memory"], set(),
     {"bench_activations.ReLU.track_peak_memory", "bench_reductions.Sort.track_peak_memory"}),
])
def test_main_job_selection_leaves_memory_out_unless_asked(user_args, without, with_memory):
    from tools.bench import runs
    for memory, expected in ((False, without), (True, with_memory)):
        # All the module runs together, and the one run of the whole suite.
        assert set().union(*(asv_selection(args, SUITE_NAMES) for _, args in runs(user_args, memory))) == expected
        (part, args), = runs(user_args, memory, by_module=False)
        assert part == "" and asv_selection(args, SUITE_NAMES) == expected


ALL_BACKENDS = ("mlx_gpu", "mlx_cpu", "cpu", "mps", "cuda", "mlx_gpu_compile")


@pytest.mark.parametrize("runnable, tf32, precisions, dtypes, expected", [
    (("mlx_cpu", "cpu"), (), ("strict", "tf32"), ("float32",),
     {("cpu", "strict", "float32"), ("mlx_cpu", "strict", "float32")}),
    (("mlx_gpu", "cuda"), ("mlx_gpu", "cuda"), ("strict", "tf32"), ("float32", "bfloat16"),
     {(b, p, "float32") for b in ("mlx_gpu", "cuda") for p in ("strict", "tf32")}
     | {("mlx_gpu", "strict", "bfloat16"), ("cuda", "strict", "bfloat16")}),
    (("mlx_gpu", "cuda"), ("mlx_gpu", "cuda"), ("tf32",), ("float16",), set()),
    (("cuda", "cpu"), ("cuda",), ("tf32",), ("float32",), {("cuda", "tf32", "float32")}),
])
def test_main_job_starts_no_process_for_a_combination_the_suite_would_skip(runnable, tf32, precisions, dtypes,
                                                                          expected):
    from tools.bench import runnable_combinations, runs
    run_args = dict(runs(["--quick"], combinations=runnable_combinations(runnable, tf32, precisions, dtypes)))
    attention = [["dim=8x12x512x64"], ALL_BACKENDS, ["strict", "tf32"], ["float32", "float16", "bfloat16"]]
    attention_run = run_of("bench_attention")
    selected = asv_selected(run_args[attention_run], "bench_attention.CausalAttention.time_latency", attention)
    assert {combination[1:] for combination in selected} == expected
    own = dict(runs(["--bench", "Attention"], combinations=runnable_combinations(runnable, tf32, precisions, dtypes)))
    assert asv_selected(own[attention_run], "bench_attention.CausalAttention.time_latency", attention) == selected
    # One run of the whole suite (a GPU pass) selects as the module's run does.
    whole = runs(["--quick"], combinations=runnable_combinations(runnable, tf32, precisions, dtypes), by_module=False)
    whole_own = runs(["--bench", "Attention|CumSum"], combinations=runnable_combinations(runnable, tf32, precisions,
                                                                                        dtypes), by_module=False)
    for (_, args) in (*whole, *whole_own):
        assert asv_selected(args, "bench_attention.CausalAttention.time_latency", attention) == selected
    floor = [["dim=1"], ALL_BACKENDS]  # a family of float32 alone, without precision: the backend comes last
    for args in (run_args[run_of("bench_floor")], whole[0][1]):
        selected = asv_selected(args, "bench_floor.Floor.time_latency", floor)
        assert {backend for _, backend in selected} == set(runnable)
        selected = asv_selected(args, "bench_floor.Floor.time_throughput", floor)
        assert {backend for _, backend in selected} == set(runnable) - {"mlx_cpu", "cpu"}, "throughput: GPU only"
    cumsum = [["dim=1048576 axi=0"], ALL_BACKENDS]  # float32 alone, beside the floor in no table's header
    own = dict(runs(["--bench", "CumSum"], combinations=runnable_combinations(runnable, tf32, precisions, dtypes)))
    reductions = run_of("bench_reductions")
    for selection in (run_args[reductions], own[reductions], whole[0][1], whole_own[0][1]):
        selected = asv_selected(selection, "bench_reductions.CumSum.time_latency", cumsum)
        assert {backend for _, backend in selected} == (set(runnable) if "float32" in dtypes else set()), \
            "a selection without float32 leaves a float32-only family's figures as they are"


def test_main_job_writes_a_table_per_selected_dtype(tmp_path):
    project = project_copy(tmp_path, {"bench_activations.py": None})
    # Results of another environment of the same machine and release (asv's virtualenv, another host's
    # interpreter): they keep their versions, and the table is this run's.
    write_fake_results(project / "results", "box")
    other, = asv_results.iter_results_for_machine(str(project / "results"), "box")
    other._params["torch"] = "1.0.0-other"
    other.save(str(project / "results"))
    env = dict(os.environ, MLXBENCH_BACKENDS="cpu", MLXBENCH_DTYPES="bfloat16,float32", HOME=str(tmp_path))
    run = subprocess.run([sys.executable, "-m", "tools.bench", "--machine", "box", "--quick", "--bench",
                          r"ReLU\.time_latency"], cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    versions = {result.env_name: result.params["torch"]
                for result in asv_results.iter_results_for_machine(str(project / "results"), "box")}
    assert versions.pop(other.env_name) == "1.0.0-other"
    assert list(versions.values()) == [importlib.metadata.version("torch")]
    version = importlib.metadata.version("mlx")
    for dtype, name in (("float32", f"speedup-mlx-{version}.md"), ("bfloat16", f"speedup-mlx-{version}-bfloat16.md")):
        lines = (project / "results" / "box" / name).read_text().splitlines()
        assert dtype in lines[0]
        head, relu = ([cell.strip() for cell in line.split("|")] for line in (lines[2], next(
            line for line in lines if line.startswith("| ReLU / dim=128x16x1024 "))))
        figure, footnote = relu[head.index("cpu")].split()
        assert float(figure) > 0 and footnote == "[1]", "torch's cpu column holds a time, of one sample (--quick)"
        assert relu[head.index("mlx_cpu")] in ("n/a", "not run"), "of this run, not the other environment's"
    assert len(list((project / "results" / "box").glob("speedup-*.md"))) == 2, "no float16 table: not selected"


def test_a_run_of_compiled_mlx_alone_writes_its_tables_with_the_compiled_column(tmp_path):
    """Compiled MLX is a table column on request: a run that timed it asks for it (on the H100, a
    half-dtype run of it alone had no other figure of its dtype, and the main job failed)."""
    project = project_copy(tmp_path, {"bench_activations.py": None})
    with open(project / "benchmarks" / "backends.py", "a") as backends:  # compiled MLX on this box's CPU
        backends.write('\nBACKENDS["mlx_gpu_compile"] = MLXCompiledBackend("mlx_gpu_compile", "cpu")\n')
    env = dict(os.environ, MLXBENCH_BACKENDS="mlx_gpu_compile", MLXBENCH_DTYPES="float16", HOME=str(tmp_path))
    run = subprocess.run([sys.executable, "-m", "tools.bench", "--machine", "box", "--quick", "--bench",
                          r"ReLU\.time_latency"], cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    table = project / "results" / "box" / f"speedup-mlx-{importlib.metadata.version('mlx')}-float16.md"
    lines = table.read_text().splitlines()
    head, relu = ([cell.strip() for cell in line.split("|")] for line in (lines[2], next(
        line for line in lines if line.startswith("| ReLU / dim=128x16x1024 "))))
    assert float(relu[head.index("mlx_gpu_compile")].split()[0]) > 0
    assert relu[head.index("mlx_gpu")] in ("n/a", "not run")


def test_results_of_finished_modules_survive_a_run_killed_mid_way(tmp_path):
    # A lost device or a time limit kills asv itself, which saves a run's results only at its end.
    project = project_copy(tmp_path, {"bench_floor.py": None, "bench_zz_lost_device.py": '''
        import os
        import signal

        from .bench_floor import Floor

        class LostDevice(Floor):
            def setup(self, *params):
                # Every process of the job's session: the main job, asv, its forkserver, this case.
                session = os.getsid(0)
                for pid in (int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()):
                    try:
                        if os.getsid(pid) == session:
                            os.kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                os.kill(os.getpid(), signal.SIGKILL)
    '''})
    env = dict(os.environ, MLXBENCH_BACKENDS="cpu", HOME=str(tmp_path))
    run = subprocess.run([sys.executable, "-m", "tools.bench", "--machine", "box", "--quick"], cwd=project, env=env,
                         capture_output=True, text=True, start_new_session=True, timeout=600)
    assert run.returncode == -9, run.stdout + run.stderr
    loaded = list(asv_results.iter_results_for_machine(str(project / "results"), "box"))
    assert len(loaded) == 1, run.stdout
    assert by_backend(loaded[0], "bench_floor.Floor.time_latency", "dim=1")["cpu"] > 0, "the finished module is kept"
    assert loaded[0].params["mlx"] == importlib.metadata.version("mlx"), "and carries its versions"
    assert "bench_zz_lost_device.LostDevice.time_latency" not in loaded[0].get_all_result_keys()


def test_memory_is_an_asv_track_in_bytes_of_at_least_the_result_per_case_and_backend(tmp_path):
    run, result, _ = quick_run(tmp_path, r"^bench_activations\.ReLU\.track_peak_memory", backends="")
    name = "bench_activations.ReLU.track_peak_memory"
    discovered = json.loads((tmp_path / "results" / "benchmarks.json").read_text())[name]
    assert discovered["type"] == "track" and discovered["unit"] == "bytes"
    assert set(result.get_all_result_keys()) == {name}, "asv's own selection: the memory benchmark alone"
    result_bytes = 4 * 64 * 128 * 1024
    for backend, peak in by_backend(result, name, "dim=64x128x1024").items():
        if BACKENDS[backend].unavailable_reason() or BACKENDS[backend].memory_unavailable_reason():
            assert math.isnan(peak), f"{backend} cannot measure here and should be skipped (NaN), got {peak}"
        else:
            assert result_bytes - HEAP_EDGES <= peak <= 2 * result_bytes, f"{backend}: {peak} bytes"
    assert not math.isnan(by_backend(result, name, "dim=64x128x1024")["mlx_cpu"])


def test_memory_benchmark_skips_through_asv_with_the_reason_where_it_cannot_measure(monkeypatch, capsys, tmp_path):
    from asv_runner.discovery import get_benchmark_from_name

    from benchmarks import backends
    bench = get_benchmark_from_name(str(ROOT / "benchmarks"), "bench_floor.Floor.track_peak_memory")
    assert (bench.type, bench.unit) == ("track", "bytes")
    bench.set_param_idx(list(itertools.product(*bench._params)).index(("dim=1", "cpu")))
    monkeypatch.setattr(backends, "CLEAR_REFS", str(tmp_path / "absent" / "clear_refs"))  # as on macOS
    backends.rss_peak_unavailable_reason.cache_clear()
    try:
        assert bench.do_setup() is True, "skipped, after the class's setup ran"
    finally:
        bench.do_teardown()
        monkeypatch.undo()
        backends.rss_peak_unavailable_reason.cache_clear()
    skipped = "asv: skipped: NotImplementedError(\"cpu: the process's peak RSS cannot be reset here"
    assert skipped in capsys.readouterr().out


NEGATE = '''
    from .common import OpBenchmark, mx, torch

    class Negate(OpBenchmark):
        cases = ["dim=1000000"]  # 4 MB of float32: below glibc's default mmap threshold

        def numpy(self, x):
            return -x

        def mlx(self, x):
            return mx.negative(x)

        def torch(self, x):
            return torch.neg(x)
'''


def test_main_job_measures_memory_only_when_asked_and_writes_its_table(tmp_path):
    project = project_copy(tmp_path, {"bench_tiny.py": NEGATE})
    box, version = project / "results" / "box", importlib.metadata.version("mlx")
    module_log = box / f"{timeline.build()[version][:8]}-mlx-{version}-bench_tiny.log"

    def main_job(*args):
        run = subprocess.run([sys.executable, "-m", "tools.bench", "--machine", "box", "--quick", *args], cwd=project,
                             env=dict(os.environ, MLXBENCH_BACKENDS="mlx_cpu,cpu", HOME=str(tmp_path)),
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout + run.stderr
        (loaded,) = asv_results.iter_results_for_machine(str(project / "results"), "box")
        return loaded

    alone = main_job("--memory", "--bench", "track_peak_memory")
    assert set(alone.get_all_result_keys()) == {"bench_tiny.Negate.track_peak_memory"}
    measured = {f"'dim=1000000', '{backend}', 'float32'": figure_dates.today() for backend in ("mlx_cpu", "cpu")}
    assert figure_dates.read(project / "results", "box") == {
        alone.commit_hash: {"bench_tiny.Negate.track_peak_memory": measured}}, \
        "each figure the run measured has its day"
    assert not (box / f"speedup-mlx-{version}.md").exists(), "no latency: no speedup table, and no error"
    peaks = by_backend(alone, "bench_tiny.Negate.track_peak_memory", "dim=1000000")
    assert all(4e6 - HEAP_EDGES <= peaks[backend] <= 8e6 for backend in ("mlx_cpu", "cpu")), peaks
    assert all(math.isnan(peaks[backend]) for backend in ("mlx_gpu", "mps", "cuda")), peaks
    table = (box / f"memory-mlx-{version}.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| Negate / dim=1000000 "))
    cells = cells_of(row)
    assert cells[1] == "n/a" and 3.99 <= float(cells[2]) <= 8.0 and cells[3] == "n/a" and 3.99 <= float(cells[4]) <= 8.0
    assert "peak memory in MB" in table.splitlines()[0]

    (box / f"memory-mlx-{version}.md").unlink()
    assert "bench_tiny.Negate.time_latency" in main_job().get_all_result_keys()
    dated = figure_dates.read(project / "results", "box")[alone.commit_hash]
    assert set(dated) == {"bench_tiny.Negate.track_peak_memory", "bench_tiny.Negate.time_latency"}
    assert "track_peak_memory" not in module_log.read_text(), "module by module, memory left out"
    assert (box / f"speedup-mlx-{version}.md").exists() and not (box / f"memory-mlx-{version}.md").exists()
    main_job("--memory")
    assert "bench_tiny.Negate.track_peak_memory" in module_log.read_text(), "and included when asked"
    assert (box / f"speedup-mlx-{version}.md").exists() and (box / f"memory-mlx-{version}.md").exists()
