"""The roofline: each case's least work (bytes, FLOPs), the table tool's --metric bandwidth|flops, and
the machine ceilings they are held against."""

import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.common import Case, op_families
from conftest import ROOT
from tests_support import reference_table_rows, write_fake_results
from tools import speedup_table

CASES = [(family, label) for family in op_families() for label in family.cases]


@pytest.mark.parametrize("family, label", CASES, ids=[f"{f.__name__} / {label}" for f, label in CASES])
def test_output_size_is_the_references_and_work_is_positive(family, label):
    case = Case.parse(label).scaled_down(1 << 16)  # small enough to compute; the formulas are the same
    bench = family()
    rng = np.random.default_rng(0)
    inputs = [a if np.issubdtype(a.dtype, np.integer) else a.astype(np.float64) for a in bench.make_inputs(case, rng)]
    result = bench.numpy(*inputs, **({} if case.axis is None else {"axis": case.axis}))
    assert bench.output_elements(case) == np.size(result)
    # at least the result written; at most every input read once besides (a gather reads only its rows)
    assert 4 * np.size(result) < bench.bytes_moved(case) <= 4 * (case.elements + np.size(result))
    assert bench.flops(case) is None or bench.flops(case) >= np.size(result)


def test_matrix_work_is_two_flops_per_multiply_add():
    from benchmarks.bench_convolution import Conv2d
    from benchmarks.bench_linalg import Linear, MatMul
    assert MatMul().flops(Case.parse("dim=1000000x64 dim=64x1024")) == 2 * 1000000 * 64 * 1024
    assert MatMul().flops(Case.parse("dim=32x1x1000 dim=32x1000x128")) == 2 * 32 * 1000 * 128
    assert Linear().flops(Case.parse("dim=100x1024x32 dim=32x1024 dim=1024")) == (2 * 32 + 1) * 100 * 1024 * 1024
    assert Conv2d().flops(Case.parse("dim=10x256x256x128 dim=8x3x3x128")) == 2 * 3 * 3 * 128 * 10 * 254 * 254 * 8


def table(tmp_path, *args):
    out = tmp_path / "table.md"
    assert speedup_table.main(["--results", str(tmp_path / "results"), "--output", str(out), *args]) == 0
    lines = [[c.strip() for c in line.split("|")[1:-1]]
             for line in out.read_text().splitlines() if line.startswith("| ")]
    head = lines[0]
    return {cells[0]: dict(zip(head, cells)) for cells in lines[1:]}, out.read_text()


def test_bandwidth_and_flops_tables_hold_rate_and_share_of_the_ceiling(tmp_path):
    write_fake_results(tmp_path / "results", "box")
    (tmp_path / "results" / "box" / "ceilings.txt").write_text("# by hand\ncpu bandwidth 100\ncpu flops 2\n")
    ms = reference_table_rows()["ReLU / dim=64x128x1024"][3]  # the cpu column
    expected_gbs = 8 * 64 * 128 * 1024 / (ms / 1e3) / 1e9
    rows, text = table(tmp_path, "--metric", "bandwidth")
    mlx_cpu, cpu = rows["ReLU / dim=64x128x1024"]["mlx_cpu"], rows["ReLU / dim=64x128x1024"]["cpu"]
    assert cpu == f"{expected_gbs:.3g} ({expected_gbs / 100:.0%})" and "(" not in mlx_cpu, "no ceiling for mlx_cpu"
    assert "speedup" not in text and "ceilings (tools/ceilings.py): cpu 100" in text
    rows, text = table(tmp_path, "--metric", "flops")
    assert rows["Sort / dim=64x128x1024 axi=0"]["cpu"] == "no work" and "achieved TFLOP/s" in text


def test_ceilings_are_measured_per_backend_and_stored_with_the_results(tmp_path):
    (tmp_path / "box").mkdir()
    # An earlier file: a backend not measured this time keeps its figures, a measured one gets new ones.
    (tmp_path / "box" / "ceilings.txt").write_text("# earlier\ncuda bandwidth 2707.3\ncpu bandwidth 1e-9\n")
    run = subprocess.run([sys.executable, "-m", "tools.ceilings", "--machine", "box", "--results", str(tmp_path)],
                         cwd=ROOT, env=dict(os.environ, MLXBENCH_BACKENDS="cpu"), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    stored = speedup_table.load_ceilings(tmp_path, "box")
    assert list(stored) == ["cpu", "cuda"] and set(stored["cpu"]) == {"bandwidth", "flops"}, "strict only on a CPU"
    assert stored["cpu"]["bandwidth"] > 0.1 and stored["cpu"]["flops"] > 0.001
    assert stored["cuda"] == {"bandwidth": 2707.3}
    assert "torch 2." in (tmp_path / "box" / "ceilings.txt").read_text().splitlines()[0]


def test_ceilings_refuse_a_path_they_cannot_write_before_measuring(tmp_path):
    (tmp_path / "box" / "ceilings.txt").mkdir(parents=True)  # a folder where the file goes
    run = subprocess.run([sys.executable, "-m", "tools.ceilings", "--machine", "box", "--results", str(tmp_path)],
                         cwd=ROOT, env=dict(os.environ, MLXBENCH_BACKENDS="cpu"), capture_output=True, text=True)
    assert run.returncode == 1 and run.stdout == "" and run.stderr.startswith(
        f"error: {tmp_path / 'box' / 'ceilings.txt'} is a folder; name a file") and run.stderr.count("\n") == 1


def test_ceilings_for_a_machine_without_results_is_one_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "tools.ceilings", "--machine", "nope", "--results", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 1 and run.stderr.strip() == (
        f"error: no results of machine 'nope' in {tmp_path}; run `make bench` on it first")


def test_a_malformed_ceilings_file_names_the_line(tmp_path, capsys):
    write_fake_results(tmp_path / "results", "box")
    (tmp_path / "results" / "box" / "ceilings.txt").write_text("cpu bandwidth\n")
    assert speedup_table.main(["--results", str(tmp_path / "results"), "--metric", "bandwidth"]) == 1
    path = tmp_path / "results" / "box" / "ceilings.txt"
    assert capsys.readouterr().err == (f"error: {path}:1: expected 'BACKEND CEILING VALUE', got 'cpu bandwidth'; mend "
                                       f"the line, restore it (git checkout -- {path}) or delete it and run python -m "
                                       "tools.ceilings\n")
