"""History across releases, as a user runs it: `asv run` over two releases in asv's virtualenvs (each
release's wheels installed by tools/mlx_wheels.py), the published site in a browser, `asv find`
between releases, refused input; and the upstream config's wheel-or-source choice on a local
stand-in for MLX's repository.

One copy of the project and one asv environment (torch from the index) serve the whole module."""

import errno
import functools
import http.server
import importlib.metadata
import json
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import types

import pytest
from asv import results as asv_results
from asv import util as asv_util

from conftest import ROOT
from tools import site as site_tool
from tools import timeline

RELEASES = ("0.32.3", "0.32.4")  # the two newest releases with mlx-cpu wheels; a06b438… is 0.32.4
BENCH = r"^bench_floor\.Floor\.time_latency"
NAME = "bench_floor.Floor.time_latency"
MACHINE = "pytest-history"


def run_asv(cwd, home, *args, config=None, backends="mlx_cpu,cpu", extra_env=None):
    env = dict(os.environ, HOME=str(home), MLXBENCH_BACKENDS=backends, **(extra_env or {}))
    command = [sys.executable, "-m", "asv", *(["--config", str(config)] if config else []), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1500)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the checkout (without its results) where asv runs as a user runs it, from the root."""
    base = tmp_path_factory.mktemp("history")
    copy, home = base / "project", base / "home"
    home.mkdir()
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split("\n")
    for name in filter(None, files):
        if not name.startswith("results/") and (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    asv = functools.partial(run_asv, copy, home)
    assert asv("machine", "--machine", MACHINE, "--yes").returncode == 0
    run = asv("run", "--machine", MACHINE, "--quick", "--show-stderr", "--bench", BENCH, "v0.32.2..v0.32.4")
    return types.SimpleNamespace(root=copy, home=home, asv=asv, run=run)


def loaded_results(project):
    found = asv_results.iter_results_for_machine(str(project.root / "results"), MACHINE)
    return {result.commit_hash: result for result in found}


def floor_times(result):
    params = result.get_result_params(NAME)
    values = result.get_result_value(NAME, params)
    return {backend.strip("'"): value for backend, value in zip(params[1], values)}


def test_asv_run_over_two_releases_installs_each_and_times_both(project):
    assert project.run.returncode == 0, project.run.stdout + project.run.stderr
    hashes = timeline.hashes(project.root / ".asv" / "mlx-timeline")
    results = loaded_results(project)
    assert set(results) == {hashes[release] for release in RELEASES}
    for result in results.values():
        times = floor_times(result)
        assert times["mlx_cpu"] > 0 and times["cpu"] > 0 and math.isnan(times["mlx_gpu"])
        assert result.params["torch"] == "2.13.0" and result.env_name.startswith("virtualenv-")
    # asv ran the newest first: the environment now holds 0.32.3's wheels, installed by install_command
    (env,) = (project.root / ".asv" / "env").iterdir()
    probe = "import importlib.metadata as m; print(m.version('mlx'), m.version('mlx-cpu'))"
    installed = subprocess.run([env / "bin" / "python", "-c", probe], capture_output=True, text=True).stdout
    assert installed.split() == ["0.32.3", "0.32.3"]


def test_a_release_without_a_wheel_here_fails_its_environment_in_one_line_and_keeps_the_rest(project):
    before = {commit: floor_times(result) for commit, result in loaded_results(project).items()}
    run = project.asv("run", "--machine", MACHINE, "--quick", "--bench", BENCH, "v0.26.3^!")
    assert run.returncode == 2, run.stdout + run.stderr
    assert ("error: mlx 0.26.3: no mlx-cpu==0.26.3 wheel for this platform" in run.stdout
            and "the release predates that package" in run.stdout)
    assert "Skipping virtualenv-" in run.stdout
    after = {commit: floor_times(result) for commit, result in loaded_results(project).items()}
    assert {commit: after[commit] for commit in before} == before, "results of other releases untouched"
    assert all(value is None or math.isnan(value) for commit in set(after) - set(before)
               for value in after[commit].values()), "nothing timed for the release that did not install"


@pytest.mark.parametrize("command", ["run", "find"])
def test_an_unknown_release_is_one_line_naming_the_releases(project, command):
    bench = [NAME] if command == "find" else ["--bench", BENCH]
    run = project.asv(command, "--machine", MACHINE, "v0.32.2..v0.99.0", *bench)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().count("\n") == 0
    assert "'v0.32.2..v0.99.0' is no release range of the timeline" in run.stderr and "to v0.32.4" in run.stderr


def test_asv_find_bisects_between_releases_to_the_one_that_slowed_down(project):
    # A stand-in case that becomes ten times slower from MLX 0.32.3 on: find must name that release.
    stand_in = project.root / "benchmarks" / "bench_zz_slower_from_0_32_3.py"
    stand_in.write_text(textwrap.dedent("""
        import importlib.metadata
        import time

        def time_slower_from_0_32_3():
            version = tuple(int(part) for part in importlib.metadata.version("mlx").split(".")[:3])
            time.sleep(0.02 if version >= (0, 32, 3) else 0.002)
    """))
    try:
        run = project.asv("find", "--machine", MACHINE, "--skip-save", "v0.32.1..v0.32.4",
                          "bench_zz_slower_from_0_32_3.time_slower_from_0_32_3")
    finally:
        stand_in.unlink()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Running approximately 1 benchmarks within 3 commits" in run.stdout
    assert re.search(r"Greatest regression found: [0-9a-f]{8} <v0\.32\.3>", run.stdout), run.stdout


@pytest.fixture(scope="module")
def site(project):
    assert project.asv("publish").returncode == 0
    offline = subprocess.run([sys.executable, "-m", "tools.site", "offline", str(project.root / "html")],
                             cwd=project.root, capture_output=True, text=True)
    assert offline.returncode == 0, offline.stderr
    return project.root / "html"


def test_published_graph_holds_a_point_per_release_per_backend(site):
    index = json.loads((site / "index.json").read_text())
    revision = {commit: int(rev) for rev, commit in index["revision_to_hash"].items()}
    hashes = timeline.hashes(site.parent / ".asv" / "mlx-timeline")
    assert index["tags"]["v0.32.4"] == revision[hashes["0.32.4"]]
    assert index["params"]["torch"] == ["2.13.0"] and index["benchmarks"][NAME]["param_names"] == ["case", "backend"]
    (graph,) = (site / "graphs" / "branch-main" / f"machine-{MACHINE}").rglob(f"{NAME}.json")
    assert "torch-2.13.0" in graph.parts
    points = dict((rev, values) for rev, values in asv_util.load_json(str(graph)))
    assert sorted(points) == sorted(revision[hashes[release]] for release in RELEASES)
    for values in points.values():  # backends in params order: mlx_gpu, mlx_cpu, cpu, mps, cuda
        assert values[1] > 0 and values[2] > 0 and values[0] is None


def test_offline_site_refuses_a_cdn_it_has_no_copy_of(tmp_path):
    (tmp_path / "index.html").write_text('<script src="https://cdn.example/lib-9.js"></script>')
    run = subprocess.run([sys.executable, "-m", "tools.site", "offline", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert "loads https://cdn.example/lib-9.js, which tools/site.py has no copy of" in run.stderr
    assert not (tmp_path / "vendor").exists()


def test_offline_site_refuses_an_index_that_is_not_utf8_in_one_line(tmp_path):
    (tmp_path / "index.html").write_bytes(b"<html>\xff</html>")
    run = subprocess.run([sys.executable, "-m", "tools.site", "offline", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 1 and run.stderr == (f"error: {tmp_path / 'index.html'} cannot be read (not UTF-8); "
                                                  "run `asv publish` again to write it anew\n")
    assert os.listdir(tmp_path) == ["index.html"]


JQUERY = '<script src="https://code.jquery.com/jquery-3.3.1.min.js"></script>'


def denied(call, number, inside):
    """`call`, refused with `number` (an errno) for paths in the folder `inside`: as an immutable (`chattr +i`)
    file or folder refuses even root, where chmod does not."""
    def refuse(path, *args, **kwargs):
        if os.path.abspath(path).startswith(f"{inside}{os.sep}"):
            raise PermissionError(number, os.strerror(number), str(path))
        return call(path, *args, **kwargs)
    return refuse


def test_offline_site_in_a_folder_it_cannot_write_is_one_line_and_left_as_is(tmp_path, monkeypatch):
    (tmp_path / "index.html").write_text(JQUERY)
    monkeypatch.setattr(os, "mkdir", denied(os.mkdir, errno.EACCES, tmp_path))
    monkeypatch.setattr(os, "open", denied(os.open, errno.EACCES, tmp_path))
    with pytest.raises(SystemExit) as refused:
        site_tool.main(["offline", str(tmp_path)])
    assert refused.value.code == (f"error: cannot write {tmp_path / 'vendor'} (Permission denied); make it and its "
                                  "folder writable, then run again: index.html is left as it was")
    assert os.listdir(tmp_path) == ["index.html"] and (tmp_path / "index.html").read_text() == JQUERY


def test_offline_site_that_cannot_replace_its_index_leaves_it_and_no_temporary(tmp_path, monkeypatch):
    (tmp_path / "index.html").write_text(JQUERY)
    monkeypatch.setattr(os, "replace", denied(os.replace, errno.EPERM, tmp_path))
    with pytest.raises(SystemExit) as refused:
        site_tool.main(["offline", str(tmp_path)])
    assert refused.value.code == (f"error: cannot write {tmp_path / 'index.html'} (Operation not permitted); make it "
                                  "and its folder writable, then run again: index.html is left as it was")
    assert sorted(os.listdir(tmp_path)) == ["index.html", "vendor"] and (tmp_path / "index.html").read_text() == JQUERY
    monkeypatch.undo()
    site_tool.main(["offline", str(tmp_path)])
    assert 'src="vendor/jquery-3.3.1.min.js"' in (tmp_path / "index.html").read_text(), "once writable, it goes"


def browser_missing():
    for program in ("chromium", "chromedriver"):
        if not shutil.which(program):
            return f"{program} is not installed (`make test` installs it with apt-get where it can)"
    return None


@pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))
def test_the_published_graph_shows_points_in_a_browser(site, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.get(f"http://127.0.0.1:{server.server_port}/#{NAME}")
        series = WebDriverWait(driver, 30).until(lambda d: d.execute_script(
            "var plot = window.$ && $('#main-graph').data('plot');"
            "return plot ? plot.getData().map(s => [s.label, s.data.filter(p => p[1] !== null).length]) : null;"))
        selectors = driver.execute_script("return $('.panel-heading').map((i, e) => e.textContent.trim()).get();")
        driver.save_screenshot(str(tmp_path / "graph.png"))
    finally:
        driver.quit()
        server.shutdown()
    points = dict(series)
    assert points["backend-mlx_cpu"] == 2 and points["backend-cpu"] == 2, series
    assert {"machine", "case", "backend"} <= set(selectors), selectors


# --- the upstream config: MLX's own history ------------------------------------------------------

def fake_package(path, name, built_from, version="0.99.0"):
    """A tiny pure-Python distribution `name` whose module says how it was made."""
    module = name.replace("-", "_")
    (path / module).mkdir(parents=True)
    (path / module / "__init__.py").write_text(f"BUILT_FROM = {built_from!r}\n")
    (path / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{name}"
        version = "{version}"
        [tool.setuptools]
        packages = ["{module}"]
    """))


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args], check=True,
                   capture_output=True, text=True)


def commit_all(repo, message):
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", message)


def test_upstream_config_takes_the_wheel_at_a_release_tag_and_builds_from_source_otherwise(project, tmp_path):
    # The stand-in for MLX's repository: a tagged release commit, then an untagged one.
    upstream = tmp_path / "upstream"
    fake_package(upstream, "mlx", "source")
    git(upstream, "init", "--quiet", "--initial-branch", "main")
    commit_all(upstream, "release")
    git(upstream, "tag", "v0.99.0")
    (upstream / "mlx" / "later.py").write_text("")
    commit_all(upstream, "after")
    # Its "published wheels" (mlx and this machine's backend package), found through pip's own PIP_FIND_LINKS.
    wheelhouse = tmp_path / "wheelhouse"
    for name in ("mlx", "mlx-cpu"):
        fake_package(tmp_path / "src" / name, name, "wheel")
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheelhouse),
                        str(tmp_path / "src" / name)], check=True)
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "__init__.py").write_text("")
    (bench / "bench_origin.py").write_text(textwrap.dedent("""
        import importlib.metadata

        def track_built_from():
            import mlx
            return {"wheel": 1, "source": 2}[mlx.BUILT_FROM]

        def track_backend_package_installed():
            return int(any(d.metadata["Name"] == "mlx-cpu" for d in importlib.metadata.distributions()))
    """))
    # The project's upstream config with the stand-in as repo and no torch (the suite is not run here).
    config = asv_util.load_json(project.root / "asv.upstream.conf.json", js_comments=True)
    config.update(repo=str(upstream), matrix={}, benchmark_dir=str(bench), results_dir=str(tmp_path / "results"),
                  env_dir=str(tmp_path / "env"), html_dir=str(tmp_path / "html"))
    config_path = project.root / "asv.upstream-standin.conf.json"  # {conf_dir}: its folder holds tools/
    config_path.write_text(json.dumps(config))
    run = project.asv("run", "--machine", MACHINE, "--show-stderr", "main", config=config_path,
                      extra_env={"PIP_FIND_LINKS": str(wheelhouse), "MLXBENCH_MLX_PACKAGE": "mlx-cpu"})
    assert run.returncode == 0, run.stdout + run.stderr
    tagged = subprocess.run(["git", "-C", str(upstream), "rev-parse", "v0.99.0", "main"], capture_output=True,
                            text=True).stdout.split()
    found = {r.commit_hash: r for r in asv_results.iter_results_for_machine(str(tmp_path / "results"), MACHINE)}
    origin = {commit: (found[commit].get_result_value("bench_origin.track_built_from", []),
                       found[commit].get_result_value("bench_origin.track_backend_package_installed", []))
              for commit in tagged}
    assert origin[tagged[0]] == ([1], [1]), "the release tag installs the published mlx and mlx-cpu wheels"
    assert origin[tagged[1]] == ([2], [0]), "the untagged commit is built from its source, alone"


def test_an_index_out_of_reach_is_named_as_such_not_as_a_missing_wheel(monkeypatch):
    from tools import mlx_wheels

    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # this index alone: no configured mirror or wheel folder
    for variable in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens on port 9
    with pytest.raises(mlx_wheels.InstallError, match=r"pip's index lists no version of mlx at all .*Connection "
                                                       r"refused\): check the network and pip's index"):
        mlx_wheels.release_requirements("0.32.4")
