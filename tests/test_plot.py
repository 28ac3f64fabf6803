"""tools/plot.py: per-family bar charts and one case over releases, drawn from asv's results."""

import pytest

from benchmarks.bench_activations import Softmax
from benchmarks.common import Case
from tests_support import reference_table_rows, write_fake_results
from tools import plot, speedup_table
from tools.speedup_table import load_results, pick_result

ROW = "Softmax / dim=64x1000000 axi=-1"
MATMUL_ROW = "MatMul / dim=1000x64x256 dim=256x32"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def results(tmp_path):
    write_fake_results(tmp_path / "results", "box", release="0.32.3")
    write_fake_results(tmp_path / "results", "box", release="0.32.4", slower=(ROW, "cpu"))
    return tmp_path / "results"


def test_family_bars_hold_each_backends_milliseconds_per_case(results):
    result = pick_result(load_results(results, "box")["box"], "box", "0.32.3")
    bars = plot.family_bars(result, Softmax)
    reference = reference_table_rows()
    assert set(bars) == {"mlx_cpu", "cpu"}, "backends without figures get no bars"
    assert bars["cpu"] == pytest.approx([reference[f"Softmax / {label}"][3] for label in Softmax.cases])


def test_families_writes_one_png_per_family(results, tmp_path, capsys):
    assert plot.main(["families", "--results", str(results), "--machine", "box", "--out", str(tmp_path / "png")]) == 0
    written = sorted((tmp_path / "png").glob("*.png"))
    assert len(written) == 17 and all(path.read_bytes().startswith(PNG) for path in written)
    assert (tmp_path / "png" / "box-Softmax-strict-latency.png") in written


def test_history_follows_a_case_over_releases(results, tmp_path):
    series = plot.release_series(load_results(results, "box")["box"], Softmax, ROW.split(" / ")[1])
    (before, after), = [series["cpu"]]
    assert before[0] == "0.32.3" and after[0] == "0.32.4" and after[1] == pytest.approx(3 * before[1])
    out = tmp_path / "history.PNG"  # a file, whatever the case of its suffix
    assert plot.main(["history", "--results", str(results), "--machine", "box", "--row", ROW, "--out", str(out)]) == 0
    assert out.read_bytes().startswith(PNG)


@pytest.mark.parametrize("args, message", [
    (["history", "--machine", "box", "--row", "Softmax / dim=1"], "error: no case 'Softmax / dim=1'"),
    (["families", "--machine", "nope"], "error: no results for machine 'nope'"),
    (["families", "--machine", "box", "--out", "{tmp}/a-file"], "error: {tmp}/a-file is a file, not a folder"),
    (["history", "--machine", "box", "--row", ROW, "--out", "{tmp}/no/such/s.png"], "error: no folder {tmp}/no/such"),
])
def test_bad_input_is_one_line_and_draws_nothing(results, tmp_path, capsys, args, message):
    (tmp_path / "a-file").write_text("kept")
    args = [arg.format(tmp=tmp_path) for arg in args]
    assert plot.main(["--results", str(results), "--out", str(tmp_path / "png"), *args]) == 1
    assert capsys.readouterr().err.startswith(message.format(tmp=tmp_path))
    assert sorted(path.name for path in tmp_path.rglob("*") if path.parent == tmp_path) == ["a-file", "results"]
    assert (tmp_path / "a-file").read_text() == "kept"


def test_dtype_draws_that_dtypes_figures_under_a_name_of_its_own(tmp_path):
    write_fake_results(tmp_path / "results", "box", half={"bfloat16": 0.25})
    result = pick_result(load_results(tmp_path / "results", "box")["box"], "box")
    float32, bfloat16 = (plot.family_bars(result, Softmax, dtype=dtype)["cpu"] for dtype in ("float32", "bfloat16"))
    assert bfloat16 == pytest.approx([ms / 4 for ms in float32])
    assert plot.main(["families", "--results", str(tmp_path / "results"), "--machine", "box", "--dtype", "bfloat16",
                      "--out", str(tmp_path / "png")]) == 0
    written = sorted((tmp_path / "png").glob("*.png"))
    assert len(written) == 17 and all(path.name.endswith("-strict-bfloat16-latency.png") for path in written)
    assert (tmp_path / "png" / "box-Softmax-strict-bfloat16-latency.png").read_bytes().startswith(PNG)


def test_memory_draws_each_calls_peak_in_megabytes_without_a_floor(tmp_path):
    write_fake_results(tmp_path / "results", "box", memory=True)
    result = pick_result(load_results(tmp_path / "results", "box")["box"], "box")
    bars = plot.family_bars(result, Softmax, metric="memory")
    result_mb = [4 * Softmax().output_elements(Case.parse(label)) / 1e6 for label in Softmax.cases]
    assert bars["mlx_cpu"] == pytest.approx(result_mb) and bars["cpu"] == pytest.approx([2 * mb for mb in result_mb])
    assert plot.main(["families", "--results", str(tmp_path / "results"), "--machine", "box", "--metric", "memory",
                      "--out", str(tmp_path / "png")]) == 0
    assert (tmp_path / "png" / "box-Softmax-strict-memory.png").read_bytes().startswith(PNG)
    assert plot.unit("memory")[0] == "MB per call (peak)" and plot.unit("latency")[0] == "ms per call"


def test_a_peak_of_nothing_is_drawn_and_does_not_decide_the_scale():
    figure = plot.family_figure("peaks", ["a", "b", "c"], {"mlx_gpu": [0.0, 1.0, 2.0]}, label="MB per call (peak)")
    assert figure.axes[0].get_yscale() == "linear" and figure.axes[0].get_ylabel() == "MB per call (peak)"
    figure = plot.family_figure("peaks", ["a", "b", "c"], {"mlx_gpu": [0.0, 1.0, 200.0]})
    assert figure.axes[0].get_yscale() == "log"


@pytest.mark.parametrize("what", [["history", "--row", MATMUL_ROW], ["families"]])
def test_tf32_with_another_dtype_is_refused_as_the_tables_refuse_it(results, tmp_path, capsys, what):
    mode = ["--results", str(results), "--machine", "box", "--dtype", "bfloat16", "--precision", "tf32"]
    assert speedup_table.main(mode) == 1
    tables_say = capsys.readouterr().err
    assert plot.main([*what, *mode, "--out", str(tmp_path / "png")]) == 1
    assert capsys.readouterr().err == tables_say and tables_say.startswith("error: tf32 is a float32 mode")
    assert not (tmp_path / "png").exists()
