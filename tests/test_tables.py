"""The speedup table (formula, failures, formats, bad input) and the release timeline."""

import csv
import datetime
import io
import json
import math
import os
import stat
import subprocess
import sys

import pytest

from conftest import ROOT
from tools import compare as compare_tool, speedup_table, timeline
from tests_support import cells_of, gpu_run, reference_table_rows, write_fake_results

TABLE_ROWS = sum(len(family.cases) for family in speedup_table.table_families())  # the reference's 61 and more


def within_rounding(baseline, mlx_gpu, published):
    low = speedup_table.speedup(baseline - 0.005, mlx_gpu + 0.005, "speedup")
    high = speedup_table.speedup(baseline + 0.005, mlx_gpu - 0.005, "speedup")
    return low - 0.005 <= published <= high + 0.005


@pytest.mark.parametrize("row", sorted(reference_table_rows()))
def test_speedup_formula_reproduces_every_row_of_the_reference_table(row):
    mlx_gpu, mlx_cpu, mps, cpu, gpu_speedup, cpu_speedup = reference_table_rows()[row]
    # The table printed times rounded to 0.01 ms and speedups to 0.01: the formula applied to any
    # times within that rounding must reach the printed speedup.
    for baseline, published in ((mps, gpu_speedup), (mlx_cpu, cpu_speedup)):
        assert within_rounding(baseline, mlx_gpu, published)
    assert speedup_table.speedup(mps, mlx_gpu, "ratio") == pytest.approx(mps / mlx_gpu)


def test_speedup_is_none_when_either_side_is_missing():
    assert speedup_table.speedup(None, 1.0, "speedup") is None
    assert speedup_table.speedup(1.0, math.nan, "ratio") is None


def table(tmp_path, *args):
    run = subprocess.run([sys.executable, "-m", "tools.speedup_table", "--results", str(tmp_path / "results"), *args],
                         cwd=ROOT, capture_output=True, text=True)
    return run


def test_markdown_table_has_every_row_numbers_na_and_footnoted_failures(tmp_path):
    write_fake_results(tmp_path / "results", "box", failed=("Sort / dim=64x128x1024 axi=0", "mlx_cpu"))
    run = table(tmp_path, "--machine", "box")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("**box: MLX 0.32.4, torch 2.13.0")
    body = [line for line in lines if line.startswith("| ") and " / dim=" in line]
    assert len(body) == TABLE_ROWS and {line.split("|")[1].strip() for line in body} >= set(reference_table_rows())
    argmax = next(line for line in body if line.startswith("| Argmax / dim=64x1024x128 axi=0 "))
    cells = cells_of(argmax)
    assert cells[1:] == ["n/a", "26.50", "n/a", "23.74", "n/a", "n/a"]
    sort = next(line for line in body if "Sort / dim=64x128x1024 axi=0" in line)
    assert "failed [1]" in sort
    assert "[1] RuntimeError: simulated kernel error" in run.stdout


def test_a_half_dtype_figure_of_mlx_on_cuda_that_rounds_more_is_footnoted_and_nothing_else(tmp_path):
    write_fake_results(tmp_path / "results", "h200", cuda=True, half={"float16": 0.5, "bfloat16": 0.5})
    write_fake_results(tmp_path / "results", "m1", with_gpu=True, half={"float16": 0.5})

    def rows(*args):
        run = table(tmp_path, *args)
        assert run.returncode == 0, run.stderr
        cells = {cells_of(line)[0]: cells_of(line)[1:] for line in run.stdout.splitlines() if " / dim=" in line}
        return cells, run.stdout

    # columns: mlx_gpu, mlx_cpu, cpu, cuda, then the two speedups
    cells, printed = rows("--machine", "h200", "--dtype", "float16")
    # Sum first: [1]; SumAll's bound is another: [2], once for its four rows
    assert cells["Sum / dim=64x128x128x128 axi=0"][0].endswith(" [1]")
    assert cells["SumAll / dim=128x1000000"][0].endswith(" [2]")
    assert float(cells["SumAll / dim=128x1000000"][0].removesuffix(" [2]")) > 0
    assert not any("[" in cell for row, row_cells in cells.items() if not row.startswith("Sum") for cell in row_cells)
    assert "[" not in cells["SumAll / dim=128x1000000"][3], "torch's sums accumulate in float32"
    assert printed.count("] same bytes, less accurate: MLX's CUDA reductions accumulate") == 2
    assert "(up to 32 of float16's epsilons off float64)" in printed and "[3]" not in printed
    cells, _ = rows("--machine", "h200", "--dtype", "bfloat16")
    assert cells["SumAll / dim=128x1000000"][0].endswith(" [1]")
    assert "[" not in cells["Sum / dim=64x128x128x128 axi=0"][0], "MLX's bfloat16 Sum is not listed"
    assert "[" not in rows("--machine", "h200")[1].split("**", 2)[2], "float32: nothing to remark"
    assert "[1]" not in rows("--machine", "m1", "--dtype", "float16")[1], "MLX on Metal: not listed"
    records = json.loads(table(tmp_path, "--machine", "h200", "--dtype", "float16", "--format", "json").stdout)
    remarks = {record["row"]: record["remarks"] for record in records}
    assert remarks["SumAll / dim=128x1000000"].startswith("mlx_gpu: same bytes, less accurate")
    assert remarks["Argmax / dim=64x1024x128 axi=0"] == ""


def test_a_failure_of_a_family_with_precision_modes_gets_its_reason(tmp_path):
    write_fake_results(tmp_path / "results", "box", failed=("Conv2d / dim=100x28x28x3 dim=8x3x3x3", "cpu"))
    run = table(tmp_path)
    conv = next(line for line in run.stdout.splitlines() if "Conv2d / dim=100x28x28x3 dim=8x3x3x3" in line)
    assert "failed [1]" in conv and "[1] RuntimeError: simulated kernel error" in run.stdout


def test_a_failure_reason_is_the_process_own_last_line_not_asv_exit_status(tmp_path):
    log = tmp_path / "run.log"
    log.write_text(
        "[ 50%] ··· bench_reductions.Sort.time_latency    2/18 failed\n"
        "              For parameters: 'dim=64x128x1024 axi=1', 'mlx_gpu', 'float32'\n"
        "              RuntimeError: cudaGraphAddKernelNode(...) failed: invalid argument\n"
        "              asv: benchmark failed (exit status 1)\n\n"
        "              For parameters: 'dim=64x128x1024 axi=0', 'mlx_gpu', 'float32'\n"
        "              asv: benchmark failed (exit status -6)\n\n")
    reasons = speedup_table.failure_reasons(log)
    assert reasons[("bench_reductions.Sort.time_latency", "dim=64x128x1024 axi=1", "mlx_gpu", None, "float32")] == \
        "RuntimeError: cudaGraphAddKernelNode(...) failed: invalid argument"
    assert reasons[("bench_reductions.Sort.time_latency", "dim=64x128x1024 axi=0", "mlx_gpu", None, "float32")] == \
        "asv: benchmark failed (exit status -6)", "a process killed before it printed anything: asv's line is all"


def test_the_newest_runs_failure_reason_wins_by_when_the_run_started_not_the_files_time(tmp_path):
    write_fake_results(tmp_path / "results", "box", failed=("Conv2d / dim=100x28x28x3 dim=8x3x3x3", "cpu"))
    machine_dir = tmp_path / "results" / "box"
    unheaded, = machine_dir.glob("*.log")  # an older make bench's log: no header, the fake's reason
    lines = unheaded.read_text().splitlines(keepends=True)
    for day, reason in (("2026-12-07", "MemoryError: the newest run"), ("2026-12-06", "MemoryError: the one before")):
        started = datetime.datetime.fromisoformat(f"{day}T06:00:00+00:00").timestamp()
        text = "".join(lines).replace("RuntimeError: simulated kernel error", reason)
        dated = machine_dir / unheaded.name.replace(".log", f"-{day}.log")
        dated.write_text(speedup_table.log_header(started) + text)
    for age, log in enumerate(sorted(machine_dir.glob("*.log"), key=lambda log: log.name, reverse=True)):
        os.utime(log, (1e9 - age, 1e9 - age))  # a clone's file times: no order of the runs
    commit = unheaded.name[:8]
    assert [log.name for log in speedup_table.run_logs(tmp_path / "results", "box", commit)] == [
        unheaded.name, unheaded.name.replace(".log", "-2026-12-06.log"),
        unheaded.name.replace(".log", "-2026-12-07.log")]
    run = table(tmp_path)
    assert "[1] MemoryError: the newest run" in run.stdout and "simulated kernel error" not in run.stdout
    assert speedup_table.log_header(0) == "# make bench: asv run started 1970-01-01T00:00:00.000000Z\n"


def test_ratio_style_and_csv_and_json_give_the_same_rows(tmp_path):
    write_fake_results(tmp_path / "results", "box", with_gpu=True)
    as_json = json.loads(table(tmp_path, "--format", "json", "--style", "ratio").stdout)
    assert len(as_json) == TABLE_ROWS
    argmax = next(r for r in as_json if r["row"] == "Argmax / dim=64x1024x128 axi=0")
    assert argmax["mlx_gpu_ms"] == "2.01" and argmax["mps_vs_mlx_gpu_ratio"] == f"{2.37 / 2.01:.2f}"
    as_csv = table(tmp_path, "--format", "csv").stdout.splitlines()
    assert len(as_csv) == TABLE_ROWS + 1 and as_csv[0].startswith("machine,mlx,torch,precision,dtype,metric,row,")

    # The markdown table of the reference table's own times is the reference table again.
    printed = {}
    for line in table(tmp_path).stdout.splitlines():
        cells = cells_of(line)
        if " / dim=" in cells[0]:
            printed[cells[0]] = cells[1:]
    assert printed.keys() >= reference_table_rows().keys() and len(printed) == TABLE_ROWS
    assert all(cells[:4] == ["n/a"] * 4 for row, cells in printed.items() if row not in reference_table_rows())
    for row, values in reference_table_rows().items():
        assert printed[row][:4] == [f"{v:.2f}" for v in values[:4]], row
        mlx_gpu, mlx_cpu, mps = values[:3]
        assert within_rounding(mps, mlx_gpu, float(printed[row][4])), row
        assert within_rounding(mlx_cpu, mlx_gpu, float(printed[row][5])), row


def mangled(folder, field, value):
    """The result file in `folder` with `field` set to `value`: valid JSON that asv's loader takes."""
    path, = (p for p in folder.glob("*.json") if p.name != "machine.json")
    data = json.loads(path.read_text())
    data[field] = value
    path.write_text(json.dumps(data))


def started_as_text(folder):
    """The result file in `folder` with a benchmark's start a string: asv's loader takes it, ordering fails."""
    path, = (p for p in folder.glob("*.json") if p.name != "machine.json")
    data = json.loads(path.read_text())
    first = next(iter(data["results"].values()))
    first[data["result_columns"].index("started_at")] = "x"
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("setup, args, message", [
    (lambda d: None, [], "no results folder"),
    (lambda d: d.mkdir(), [], "no asv results in"),
    (lambda d: write_fake_results(d, "box"), ["--machine", "nope"],
     "no results for machine 'nope'; machines with results: box"),
    (lambda d: write_fake_results(d, "box"), ["--release", "0.1.0"], "no results for mlx 0.1.0 on machine 'box'"),
    (lambda d: (write_fake_results(d, "box"), (d / "box" / "junk.json").write_text("{not json")), [],
     "junk.json is not an asv result file"),
    (lambda d: (write_fake_results(d, "box"), (d / "box" / "foreign.json").write_text('{"hello": 1}')), [],
     "foreign.json is not an asv result file"),
    (lambda d: (write_fake_results(d, "box"), mangled(d / "box", "commit_hash", None)), [],
     "is not an asv result file"),
    (lambda d: (write_fake_results(d, "box"),
                mangled(d / "box", "results", {"bench_floor.Floor.time_latency": "x"})), [],
     "is not an asv result file"),
    (lambda d: (write_fake_results(d, "box"), mangled(d / "box", "results", [])), [], "is not an asv result file"),
    (lambda d: (write_fake_results(d, "box"), started_as_text(d / "box")), [],
     "is not an asv result file (a benchmark's start is not asv's milliseconds)"),
    (lambda d: (write_fake_results(d, "box"), (d / "box" / "gone.json").symlink_to(d / "nowhere.json")), [],
     "gone.json is not an asv result file (No such file or directory)"),
    (lambda d: (write_fake_results(d, "box"), (d / "box" / "machine.json").unlink()), [],
     "box/machine.json cannot be read (No such file or directory), so asv skips the results beside it"),
])
def test_bad_input_is_one_clear_line_and_no_output_file(tmp_path, setup, args, message):
    setup(tmp_path / "results")
    output = tmp_path / "table.md"
    run = table(tmp_path, *args, "--output", str(output))
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and message in run.stderr and "Traceback" not in run.stderr
    assert not output.exists() and run.stdout == ""


@pytest.mark.parametrize("output, message", [("missing/table.md", "no folder {tmp}/missing to write table.md in"),
                                             (".", "{tmp} is a folder; name a file to write")])
def test_an_output_that_cannot_be_written_is_one_line_before_any_table(tmp_path, output, message):
    write_fake_results(tmp_path / "results", "box")
    run = table(tmp_path, "--output", str(tmp_path / output))
    assert run.returncode == 1 and run.stdout == "" and run.stderr.count("\n") == 1
    assert run.stderr.startswith(f"error: {message.format(tmp=tmp_path / output if output == '.' else tmp_path)}")
    assert not list(tmp_path.rglob("*.tmp")) and not (tmp_path / "missing").exists()


def test_precision_selects_the_mode_and_says_so_in_the_header(tmp_path):
    write_fake_results(tmp_path / "results", "box", with_gpu=True)  # an Apple machine: Metal and mps
    tf32 = table(tmp_path, "--precision", "tf32").stdout
    assert "tf32 mode: MatMul, Linear and convolutions may multiply in TF32" in tf32.splitlines()[0]
    matmul = next(line for line in tf32.splitlines() if "MatMul / dim=32x1x1000" in line)
    cells = cells_of(matmul)
    assert cells[1:5] == ["n/a", "0.87", "0.72", "0.81"], "Metal: no tf32 figure; CPUs and mps: their float32 ones"
    argmax = next(line for line in tf32.splitlines() if "Argmax / dim=64x1024x128 axi=0" in line)
    assert "26.50" in argmax  # families without matrix units have one mode
    strict = table(tmp_path).stdout
    assert "float32 (strict: no TF32 anywhere)" in strict.splitlines()[0]
    bad = table(tmp_path, "--precision", "fp8")
    assert bad.returncode == 2 and "invalid choice: 'fp8'" in bad.stderr


def table_rows(markdown):
    """{row name: its cells} of a markdown table, in order."""
    rows = {}
    for line in markdown.splitlines():
        cells = cells_of(line)
        if " / dim=" in cells[0]:
            rows[cells[0]] = cells[1:]
    return rows


def test_dtype_selects_its_figures_keeps_the_row_names_and_says_so_in_the_header(tmp_path):
    write_fake_results(tmp_path / "results", "box", half={"float16": 0.5})
    float32, float16 = table(tmp_path).stdout, table(tmp_path, "--dtype", "float16").stdout
    assert "float32 (strict: no TF32 anywhere)" in float32.splitlines()[0]
    assert "float16: inputs and results in float16 on both frameworks" in float16.splitlines()[0]
    assert list(table_rows(float16)) == list(table_rows(float32)) and len(table_rows(float16)) == TABLE_ROWS
    assert table_rows(float32)["Argmax / dim=64x1024x128 axi=0"][:4] == ["n/a", "26.50", "n/a", "23.74"]
    assert table_rows(float16)["Argmax / dim=64x1024x128 axi=0"][:4] == ["n/a", "13.25", "n/a", "11.87"]
    assert table_rows(float16)["BCE / dim=1000000 dim=1000000"][:4] == ["not run"] * 4, "BCE has no float16"
    for args, message in ((["--dtype", "bfloat16"], "have no bfloat16 latency figure"),
                          (["--dtype", "float16", "--precision", "tf32"], "tf32 is a float32 mode"),
                          (["--dtype", "float16", "--metric", "bandwidth"], "counts float32 bytes")):
        bad = table(tmp_path, *args)
        assert bad.returncode == 1 and message in bad.stderr and bad.stderr.count("\n") == 1, bad.stderr


def test_machines_of_other_baselines_and_dtypes_share_one_table(tmp_path):
    """A Mac (mps baseline) beside an NVIDIA box (cuda baseline, float16 too): one CSV with both machines'
    columns, and a float16 table of the box alone, the Mac left out with a note rather than an error."""
    write_fake_results(tmp_path / "results", "mac", with_gpu=True)
    write_fake_results(tmp_path / "results", "nvidia", cuda=True, half={"float16": 0.5})
    as_csv = list(csv.DictReader(io.StringIO(table(tmp_path, "--format", "csv").stdout)))
    assert {r["machine"] for r in as_csv} == {"mac", "nvidia"} and len(as_csv) == 2 * TABLE_ROWS
    argmax = {r["machine"]: r for r in as_csv if r["row"] == "Argmax / dim=64x1024x128 axi=0"}
    assert argmax["mac"]["mps_ms"] == "2.37" and argmax["mac"]["cuda_vs_mlx_gpu_speedup"] == ""
    assert argmax["nvidia"]["cuda_ms"] == "2.37" and argmax["nvidia"]["mps_vs_mlx_gpu_speedup"] == ""
    half = table(tmp_path, "--dtype", "float16")
    assert half.returncode == 0 and "nvidia" in half.stdout and "mac" not in half.stdout
    assert half.stderr.startswith("note: the results of mac") and "no float16 latency figure" in half.stderr
    lacking = table(tmp_path, "--dtype", "float16", "--machine", "mac")
    assert lacking.returncode == 1 and lacking.stderr.count("\n") == 1, lacking.stderr


def test_committed_tables_come_from_the_committed_results_and_old_results_read_as_float32(tmp_path):
    committed = ROOT / "results" / "h100-sxm-80gb"
    for precision in ("strict", "tf32"):
        run = subprocess.run([sys.executable, "-m", "tools.speedup_table", "--machine", "h100-sxm-80gb",
                              "--precision", precision], cwd=ROOT, capture_output=True, text=True)
        printed = (committed / f"speedup-mlx-0.32.4-{precision}-latency.md").read_text()
        assert run.returncode == 0 and table_rows(run.stdout) == table_rows(printed)
        assert len(table_rows(printed)) == TABLE_ROWS
    memory = subprocess.run([sys.executable, "-m", "tools.speedup_table", "--machine", "h100-sxm-80gb", "--metric",
                             "memory", "--compiled"], cwd=ROOT, capture_output=True, text=True)
    printed = (committed / "memory-mlx-0.32.4.md").read_text()
    assert memory.returncode == 0 and table_rows(memory.stdout) == table_rows(printed)
    assert table_rows(printed)["Conv1d / dim=100x256x256 dim=8x3x256"][-1] == "28.1", \
        "autotuned cuDNN: 14637 MB before"
    latency = table_rows((committed / "speedup-mlx-0.32.4-strict-latency.md").read_text())
    assert all(float(cells[1]) > 0 and float(cells[2]) > 0 for cells in latency.values()), \
        "mlx_cpu and cpu timed in every row (the full run of 2026-12-07)"
    assert float(latency["Conv1d / dim=100x256x256 dim=8x3x256"][3]) < 1, "cuda autotuned: 0.11 ms, 21.3 before"
    # The extras of 2026-12-05: compiled MLX in every dtype, mlx_gpu and cuda in the half dtypes.
    for name, args in (("compiled", []), ("tf32-compiled", ["--precision", "tf32"]),
                       ("float16", ["--dtype", "float16"]), ("bfloat16", ["--dtype", "bfloat16"])):
        run = subprocess.run([sys.executable, "-m", "tools.speedup_table", "--machine", "h100-sxm-80gb", "--compiled",
                              *args], cwd=ROOT, capture_output=True, text=True)
        rows = table_rows((committed / f"speedup-mlx-0.32.4-{name}.md").read_text())
        assert run.returncode == 0 and table_rows(run.stdout) == rows and len(rows) == TABLE_ROWS, name
        timed = [(cells[0].replace(".", "").isdigit(), cells[1].replace(".", "").isdigit()) for cells in rows.values()]
        assert all(compiled for plain, compiled in timed if plain) and sum(c for _, c in timed) > 70, \
            f"{name}: compiled MLX timed wherever plain MLX was"

    # The same figures written without and with the dtype parameter make the same table.
    write_fake_results(tmp_path / "old" / "results", "box", without_dtype=True)
    write_fake_results(tmp_path / "new" / "results", "box")
    old_rows, new_rows = (table_rows(table(tmp_path / run).stdout) for run in ("old", "new"))
    assert old_rows == new_rows and len(new_rows) == TABLE_ROWS


def test_the_h200_tables_come_from_its_results_with_cpu_columns_and_autotuned_convolutions():
    committed = ROOT / "results" / "h200-141gb"
    for name, args in (("", []), ("-strict-latency", []), ("-tf32-latency", ["--precision", "tf32"]),
                       ("-strict-throughput", ["--metric", "throughput"]),
                       ("-tf32-throughput", ["--precision", "tf32", "--metric", "throughput"])):
        run = subprocess.run([sys.executable, "-m", "tools.speedup_table", "--machine", "h200-141gb", *args],
                             cwd=ROOT, capture_output=True, text=True)
        rows = table_rows((committed / f"speedup-mlx-0.32.4{name}.md").read_text())
        assert run.returncode == 0 and table_rows(run.stdout) == rows and len(rows) == TABLE_ROWS, name
    latency = table_rows((committed / "speedup-mlx-0.32.4.md").read_text())
    assert all(float(cells[1]) > 0 and float(cells[2]) > 0 for cells in latency.values()), \
        "mlx_cpu and cpu timed in every row (the CPU pass of 2026-12-06)"
    assert float(latency["Conv1d / dim=100x256x256 dim=8x3x256"][3]) < 1, "cuda autotuned: 0.106 ms, 18.5 before"


def test_the_readme_shows_the_committed_h100_table_as_it_is():
    table = (ROOT / "results" / "h100-sxm-80gb" / "speedup-mlx-0.32.4-strict-latency.md").read_text().strip()
    assert table in (ROOT / "README.md").read_text(), "README's H100 table: paste the committed one"


def test_a_bad_release_list_is_one_line_and_a_failed_build_keeps_the_timeline(tmp_path):
    repo = tmp_path / "timeline"
    built = timeline.build(timeline.read_releases(), repo)
    listing = tmp_path / "mlx-releases.txt"
    listing.write_text(timeline.RELEASES.read_text() + "0.99.0 2026-13-45\n")
    with pytest.raises(timeline.TimelineError, match=r"mlx-releases.txt:\d+: expected 'VERSION YYYY-MM-DD', "
                                                     r"got '0.99.0 2026-13-45'; run `make releases`"):
        timeline.read_releases(listing)
    with pytest.raises(timeline.TimelineError, match="cannot read the release list .*missing.txt"):
        timeline.read_releases(tmp_path / "missing.txt")
    with pytest.raises(ValueError):  # a build that breaks half-way (here: on a date) ...
        timeline.build([("0.1.0", "2026-01-01"), ("0.2.0", "2026-13-45")], repo)
    assert timeline.hashes(repo) == built, "... leaves the timeline as it was"


def test_a_refresh_without_the_index_is_one_line_and_the_list_is_written_whole_and_readable(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens on port 9
    with pytest.raises(timeline.TimelineError, match="cannot read mlx's releases from http://127.0.0.1:9/simple/mlx/ "
                                                     r"\(ConnectionError: .*\); check the network"):
        timeline.fetch_releases()
    listing = tmp_path / "mlx-releases.txt"
    timeline.write_releases([("0.1.0", "2024-01-02")], listing)
    assert stat.S_IMODE(listing.stat().st_mode) == 0o644 and list(tmp_path.iterdir()) == [listing]
    assert timeline.read_releases(listing) == [("0.1.0", "2024-01-02")]


def test_timeline_is_deterministic_and_tagged(tmp_path):
    releases = timeline.read_releases()
    first = timeline.build(releases, tmp_path / "a")
    second = timeline.build(releases, tmp_path / "b")
    assert first == second and list(first) == [version for version, _ in releases]
    tags = subprocess.check_output(["git", "-C", str(tmp_path / "a"), "tag"], text=True).split()
    assert f"v{releases[-1][0]}" in tags
    date = subprocess.check_output(["git", "-C", str(tmp_path / "a"), "log", "-1", "--format=%cs"], text=True).strip()
    assert date == releases[-1][1]


def test_timeline_rebuilds_when_the_list_changes_and_refuses_an_unlisted_release(tmp_path):
    releases = timeline.read_releases()
    short = timeline.build(releases[:3], tmp_path / "t")
    longer = timeline.build(releases[:4], tmp_path / "t")
    assert list(longer)[:3] == list(short) and len(longer) == 4
    with pytest.raises(timeline.TimelineError, match="not a listed release; run `make releases`"):
        timeline.commit_of("99.0.0", tmp_path / "t")


def test_a_malformed_release_list_names_the_line_and_the_fix(tmp_path):
    bad = tmp_path / "releases.txt"
    bad.write_text("0.1.0 2024-01-01\n0.2.0\n")
    with pytest.raises(timeline.TimelineError, match=r"releases.txt:2: expected 'VERSION YYYY-MM-DD'.*make releases"):
        timeline.read_releases(bad)


def compare(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "tools.compare", "--results", str(tmp_path / "results"), *args],
                          cwd=ROOT, capture_output=True, text=True)


def test_compare_two_releases_puts_the_largest_slowdown_first(tmp_path):
    write_fake_results(tmp_path / "results", "box", release="0.32.3")
    write_fake_results(tmp_path / "results", "box", release="0.32.4", slower=("Softmax / dim=1000000x64 axi=-1", "cpu"))
    run = compare(tmp_path, "--machine", "box", "--releases", "0.32.3", "0.32.4")
    assert run.returncode == 0, run.stderr
    rows = [cells_of(line) for line in run.stdout.splitlines()[2:]]
    assert rows[0] == ["Softmax / dim=1000000x64 axi=-1", "cpu", "45.99", "137.97", "3.00"]
    assert all(row[4] == "1.00" for row in rows[1:])
    assert len(rows) == 2 * 61  # mlx_cpu and cpu measured for every case


def test_compare_gives_the_spread_of_each_sides_gpu_processes_where_their_samples_split():
    before = gpu_run({"dim=128x16x1024": (10e-6, 12e-6, 11e-6), "dim=64x128x1024": [0.5e-3, 0.6e-3]})
    after = gpu_run({"dim=128x16x1024": (12e-6, 12.5e-6, 13e-6), "dim=64x128x1024": [0.6e-3, 0.7e-3]})
    rows = {r["row"]: r for r in compare_tool.compared_rows(before, after, "strict")}
    small, slow = rows["ReLU / dim=128x16x1024"], rows["ReLU / dim=64x128x1024"]
    assert small["ratio"] == pytest.approx(12.5 / 11) and small["spread"] == pytest.approx(1.2), "the larger side's"
    assert slow["ratio"] == pytest.approx(0.65 / 0.55) and slow["spread"] is None, "a slow case's samples do not split"
    text = compare_tool.render(list(rows.values()), ["a", "b"], "markdown")
    cells = {cells_of(line)[0]: cells_of(line) for line in text.splitlines()[2:]}
    assert text.splitlines()[0].rstrip("| ").endswith("processes' spread")
    assert cells["ReLU / dim=128x16x1024"][-2:] == ["1.14", "1.20"]
    assert cells["ReLU / dim=64x128x1024"][-2:] == ["1.18", ""]
    without = compare_tool.render([{**r, "spread": None} for r in rows.values()], ["a", "b"], "markdown")
    assert "spread" not in without, "no GPU processes' samples: no column"
    four = [gpu_run({"dim=128x16x1024": levels})
            for levels in ((10e-6, 12e-6, 11e-6, 10e-6), (12e-6, 13e-6, 12e-6, 12e-6))]
    assert compare_tool.compared_rows(*four, "strict")[0]["spread"] is None, "four blocks: not the suite's three rounds"
    assert compare_tool.compared_rows(*four, "strict", rounds=4)[0]["spread"] == pytest.approx(1.2)


def test_compare_two_machines_and_its_bad_input(tmp_path):
    write_fake_results(tmp_path / "results", "a")
    write_fake_results(tmp_path / "results", "b", slower=("Argmax / dim=64x1024x128 axi=0", "mlx_cpu"))
    run = compare(tmp_path, "--machines", "a", "b")
    first = cells_of(run.stdout.splitlines()[2])
    assert run.returncode == 0 and first == ["Argmax / dim=64x1024x128 axi=0", "mlx_cpu", "26.50", "79.50", "3.00"]
    for args, message in ((["--machines", "a", "c"], "no results for machine 'c'"),
                          (["--machine", "a", "--releases", "0.32.4", "0.1.0"], "no results for mlx 0.1.0")):
        bad = compare(tmp_path, *args, "--output", str(tmp_path / "out.md"))
        assert bad.returncode == 1 and message in bad.stderr and bad.stderr.count("\n") == 1
        assert not (tmp_path / "out.md").exists()
    for args, message in ((["--machines", "a", "b", "--machine", "a"], "--machine picks the machine for --releases"),
                          (["--machine", "a", "--releases", "0.32.4", "0.32.4", "--release", "0.32.4"],
                           "--release picks one release for --machines")):
        bad = compare(tmp_path, *args)
        assert bad.returncode == 2 and message in bad.stderr, "an option that would be ignored is refused"
    half = compare(tmp_path, "--machines", "a", "b", "--dtype", "float16")
    assert half.returncode == 1 and ("have no float16 case and backend measured in both (dtypes other than float32 "
                                     "only where MLXBENCH_DTYPES asked for them)") in half.stderr


def test_an_unlisted_mlx_is_refused_with_both_ways_on_or_recorded_when_asked(tmp_path):
    from tools.bench import release_commit

    with pytest.raises(timeline.TimelineError, match=r"run `make releases`.*--record-unlisted"):
        release_commit("0.99.0.dev0", repo=tmp_path / "t")
    recorded = release_commit("0.99.0.dev0", record_unlisted=True, repo=tmp_path / "t")
    listed = timeline.hashes(tmp_path / "t")
    assert list(listed)[-1] == "0.99.0.dev0" and listed["0.99.0.dev0"] == recorded
    assert listed["0.32.4"] == timeline.build()["0.32.4"], "listed releases keep their shared hashes"


def test_throughput_metric_divides_by_the_calls_and_the_header_gives_the_floor(tmp_path):
    write_fake_results(tmp_path / "results", "box", with_gpu=True, throughput=True)
    lines = table(tmp_path, "--metric", "throughput").stdout.splitlines()
    assert "throughput (GPU: 10 calls back to back" in lines[0]
    assert "floor (synchronised one-element op, ms): mlx_gpu 0.025, mlx_cpu 0.010, cpu 0.002, mps 0.030" in lines[0]
    argmax = next(line for line in lines if "Argmax / dim=64x1024x128 axi=0" in line)
    cells = cells_of(argmax)
    assert cells[1:5] == ["1.00", "n/a", "1.19", "n/a"]  # half of 2.01 and 2.37 ms; no CPU throughput
    assert "floor (synchronised" in table(tmp_path).stdout.splitlines()[0]
    assert not any("Floor" in line for line in lines)


def test_compiled_adds_mlx_gpu_compile_and_the_baselines_speedup_over_it(tmp_path):
    write_fake_results(tmp_path / "results", "box", with_gpu=True, compiled=True)
    lines = table(tmp_path, "--compiled").stdout.splitlines()
    head = cells_of(lines[2])
    assert head[1:3] == ["mlx_gpu", "mlx_gpu_compile"] and head[-1] == "mps/mlx_gpu_compile speedup"
    argmax = next(line for line in lines if "Argmax / dim=64x1024x128 axi=0" in line)
    cells = dict(zip(head, cells_of(argmax)))
    assert cells["mlx_gpu"] == "2.01" and cells["mlx_gpu_compile"] == "1.00"  # half, as written
    mps = float(cells["mps"])
    assert float(cells["mps/mlx_gpu_compile speedup"]) == pytest.approx((mps - 1.005) / mps, abs=0.006)
    assert "mlx_gpu_compile" not in table(tmp_path).stdout, "only on request"


def test_memory_metric_is_peak_mb_per_backend_with_failures_and_no_speedup_columns(tmp_path):
    write_fake_results(tmp_path / "results", "box", memory=True, failed=("ReLU / dim=128x16x1024", "cpu"))
    commit = timeline.build()["0.32.4"]
    (tmp_path / "results" / "box" / f"{commit[:8]}-mlx-0.32.4-bench_activations.log").write_text(
        "[ 90%] ··· bench_activations.ReLU.track_peak_memory    1/10 failed\n"
        "              For parameters: 'dim=128x16x1024', 'cpu'\n"
        "              MemoryError: simulated allocation failure\n\n")
    run = table(tmp_path, "--metric", "memory")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "peak memory in MB (10^6 bytes)" in lines[0] and "floor" not in lines[0]
    rows = {cells[0]: cells[1:] for cells in (cells_of(line) for line in lines
                                              if line.startswith("| "))}
    assert rows["Operation"] == ["mlx_gpu", "mlx_cpu", "mps", "cpu"], "no speedup columns: memory is no time"
    assert rows["ReLU / dim=64x128x1024"] == ["n/a", "33.6", "n/a", "67.1"]  # 64x128x1024 float32, once and twice
    assert rows["Sort / dim=64x128x1024 axi=0"] == ["n/a", "33.6", "n/a", "67.1"]
    assert rows["ReLU / dim=128x16x1024"] == ["n/a", "8.39", "n/a", "failed [1]"]
    assert "[1] MemoryError: simulated allocation failure" in run.stdout
    as_json = json.loads(table(tmp_path, "--metric", "memory", "--format", "json").stdout)
    relu = next(r for r in as_json if r["row"] == "ReLU / dim=64x128x1024")
    assert relu["metric"] == "memory" and relu["mlx_cpu_mb"] == "33.6" and relu["cpu_mb"] == "67.1"


def test_memory_table_of_results_without_memory_says_how_to_measure_it(tmp_path):
    write_fake_results(tmp_path / "results", "box")
    run = table(tmp_path, "--metric", "memory")
    assert run.returncode == 1 and run.stderr.count("\n") == 1
    assert ("have no float32 memory figure of a case of the suite "
            "(memory is measured by `python -m tools.bench --memory` only)") in run.stderr


def test_a_fast_figure_of_one_sample_is_footnoted_as_no_timing():
    quick = gpu_run({"dim=128x16x1024": [40e-6], "dim=64x128x1024": (40e-6, 41e-6, 42e-6)})
    slow = gpu_run({"dim=128x16x1024": [2.0], "dim=64x128x1024": [0.9]})
    for result, footnoted in ((quick, {"dim=128x16x1024"}), (slow, {"dim=64x128x1024"})):
        rows, _ = speedup_table.machine_rows(result, {}, "speedup", "strict")
        remarks = {row["row"].split(" / ")[1]: row["remarks"] for row in rows if row["row"].startswith("ReLU /")}
        assert remarks == {label: {"cuda": speedup_table.ONE_SAMPLE} if label in footnoted else {}
                           for label in ("dim=128x16x1024", "dim=64x128x1024")}, \
            "one sample of a call under a second: asv's --quick; of seconds: asv's own limit, a real figure"
