"""The release list and the timeline built from it, under bad input: a package index that answers with
no release or with part of them, a folder that cannot be written, list lines that cannot be built from.
Each is one line naming the fix, and leaves the list and the timeline as they were.

The tools run on a copy of tools/timeline.py and of the committed list in a folder of the test's own
(its ROOT), so that no test can rewrite the checkout's list; the package index is a local stub."""

import errno
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest

from conftest import ROOT
from tools import speedup_table, timeline

MALFORMED = [
    ("bad..ver 2024-01-02", "'bad..ver' is no version as the package index writes one"),
    ("0.99.0 20240102", "'20240102' is no date YYYY-MM-DD"),
    ("0.99.0 2024-01-02 extra", "a version and a date, separated by a space"),
]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder holding tools/timeline.py and the committed list, where `python -m tools.timeline` runs as
    in the checkout; this process's timeline module is pointed at it too."""
    (tmp_path / "tools").mkdir()
    (tmp_path / "timeline").mkdir()
    shutil.copy(ROOT / "tools" / "__init__.py", tmp_path / "tools")
    shutil.copy(ROOT / "tools" / "timeline.py", tmp_path / "tools")
    shutil.copy(timeline.RELEASES, tmp_path / "timeline")
    monkeypatch.setattr(timeline, "ROOT", tmp_path)
    monkeypatch.setattr(timeline, "RELEASES", tmp_path / "timeline" / timeline.RELEASES.name)
    monkeypatch.setattr(timeline, "REPO", tmp_path / ".asv" / "mlx-timeline")
    return types.SimpleNamespace(root=tmp_path, listing=timeline.RELEASES, committed=timeline.RELEASES.read_bytes())


class IndexStub(http.server.BaseHTTPRequestHandler):
    """A simple index's JSON page for mlx, listing the server's `files`."""

    def do_GET(self):
        body = json.dumps({"files": self.server.files}).encode()
        self.send_response(200 if self.path == "/simple/mlx/" else 404)
        self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass  # pytest shows a failing test's stderr: keep it to the tool's


@pytest.fixture
def index():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), IndexStub)
    server.files = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def wheels_of(releases):
    return [{"filename": f"mlx-{version}-cp311-cp311-macosx_14_0_arm64.whl", "upload-time": f"{date}T10:00:00Z"}
            for version, date in releases]


def timeline_tool(project, index, *args):
    env = dict(os.environ, PIP_INDEX_URL=f"http://127.0.0.1:{index.server_port}/simple", NO_PROXY="127.0.0.1",
               no_proxy="127.0.0.1")
    return subprocess.run([sys.executable, "-m", "tools.timeline", *args], cwd=project.root, env=env,
                          capture_output=True, text=True, timeout=120)


def assert_one_line_error(run, *phrases):
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith("error: ") and run.stderr.strip().count("\n") == 0, run.stderr
    for phrase in phrases:
        assert phrase in run.stderr


def test_a_refresh_the_index_answers_without_a_release_is_one_line_and_keeps_the_list(project, index):
    run = timeline_tool(project, index, "refresh")
    assert_one_line_error(run, f"http://127.0.0.1:{index.server_port}/simple/mlx/ lists no final release of mlx",
                          "check pip's index (PIP_INDEX_URL)")
    assert project.listing.read_bytes() == project.committed
    assert list(project.listing.parent.iterdir()) == [project.listing], "no temporary left beside it"


def test_a_refresh_that_would_drop_listed_releases_is_refused_and_one_that_adds_is_written(project, index):
    listed = timeline.read_releases()
    index.files = wheels_of(listed[-1:])
    run = timeline_tool(project, index, "refresh")
    assert_one_line_error(run, f"would drop {len(listed) - 1} of the {len(listed)} in ", "the list was left as it was")
    assert project.listing.read_bytes() == project.committed
    index.files = wheels_of([*listed, ("0.99.0", "2027-01-02")])
    run = timeline_tool(project, index, "refresh")
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"timeline/mlx-releases.txt: {len(listed) + 1} releases, newest 0.99.0\n"
    assert project.listing.read_bytes() == project.committed + b"0.99.0 2027-01-02\n"


def test_an_unwritable_timeline_folder_is_one_line_and_keeps_the_list(project, monkeypatch):
    # The test may run as root, whom a folder's mode does not stop: the folder refuses the temporary file.
    def refused(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), dir)

    monkeypatch.setattr(timeline, "fetch_releases", lambda: [*timeline.read_releases(), ("0.99.0", "2027-01-02")])
    monkeypatch.setattr(timeline.tempfile, "NamedTemporaryFile", refused)
    with pytest.raises(SystemExit) as exit:
        timeline.main(["refresh"])
    assert exit.value.code == (f"error: cannot write {project.listing} (Permission denied); make "
                               f"{project.listing.parent} writable and run `make releases` again; the list was left "
                               "as it was")
    assert project.listing.read_bytes() == project.committed


@pytest.mark.parametrize("line, problem", MALFORMED, ids=["version", "date", "fields"])
def test_build_refuses_a_malformed_line_naming_the_file_the_line_and_the_fix(project, index, line, problem):
    with project.listing.open("a") as listing:
        listing.write(line + "\n")
    number = project.committed.count(b"\n") + 1
    run = timeline_tool(project, index, "build")
    assert_one_line_error(run, f"error: {project.listing}:{number}: expected 'VERSION YYYY-MM-DD', got {line!r}; "
                               f"run `make releases` (or mend the line: {problem}")
    assert not (project.root / ".asv").exists(), "nothing built, no temporary left"


def test_a_build_git_refuses_is_one_error_and_leaves_the_timeline_as_it_was_with_no_temporary(tmp_path):
    repo = tmp_path / "mlx-timeline"
    built = timeline.build([("0.1.0", "2024-01-01")], repo)
    with pytest.raises(timeline.TimelineError, match=r"git could not build the timeline in .*mlx-timeline\.new "
                                                     r"\(fatal: .*refs/tags/vbad\.\.ver"):
        timeline.build([("0.1.0", "2024-01-01"), ("bad..ver", "2024-01-02")], repo)
    assert timeline.hashes(repo) == built and sorted(tmp_path.iterdir()) == [repo, tmp_path / "mlx-timeline.lock"]


def git_checkout(folder):
    """A git checkout in `folder` with one commit and an edit not committed: what a build must never touch."""
    subprocess.run(["git", "init", "--quiet", "--initial-branch", "main", str(folder)], check=True)
    (folder / "work.txt").write_text("committed\n")
    identity = ["-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run(["git", "-C", str(folder), "add", "work.txt"], check=True)
    subprocess.run(["git", "-C", str(folder), *identity, "commit", "--quiet", "-m", "work"], check=True)
    (folder / "work.txt").write_text("not committed\n")
    return subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True).stdout


def test_a_build_whose_repository_is_cleared_midway_never_touches_the_checkout_around_it(tmp_path, monkeypatch):
    checkout = tmp_path / "checkout"
    head = git_checkout(checkout)
    real_run = subprocess.run

    def cleared_before_checkout(command, *args, **kwargs):  # as another process starting its own build would
        done = real_run(command, *args, **kwargs)
        if "fast-import" in command:
            shutil.rmtree(checkout / ".asv" / "mlx-timeline.new" / ".git")
        return done

    monkeypatch.setattr(timeline.subprocess, "run", cleared_before_checkout)
    with pytest.raises(timeline.TimelineError, match="git could not build the timeline"):
        timeline.build([("0.1.0", "2024-01-01")], checkout / ".asv" / "mlx-timeline")
    monkeypatch.undo()
    assert (checkout / "work.txt").read_text() == "not committed\n"
    now = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert now == head
    assert timeline._current(checkout / ".asv") is None, "a folder without .git is no timeline, whatever lies around it"


def test_a_release_list_that_is_not_utf8_is_one_line(tmp_path):
    listing = tmp_path / "mlx-releases.txt"
    listing.write_bytes(b"# Verr\xf6ffentlichungen\n0.1.0 2024-01-01\n")
    with pytest.raises(timeline.TimelineError, match=r"mlx-releases.txt is not UTF-8 text \(byte 6 cannot be "
                                                     r"decoded\); restore it from git or run `make releases`$"):
        timeline.read_releases(listing)


def test_a_release_listed_twice_is_refused_naming_it(tmp_path):
    listing = tmp_path / "mlx-releases.txt"
    listing.write_text("0.1.0 2024-01-01\n0.2.0 2024-02-01\n0.1.0 2024-01-01\n")
    with pytest.raises(timeline.TimelineError, match=r"mlx-releases.txt:3: mlx 0.1.0 is listed again \(first on "
                                                     r"line 1\); delete one of the two lines or run `make releases`"):
        timeline.read_releases(listing)


def test_the_committed_list_passes_the_checks():
    releases = timeline.read_releases(ROOT / "timeline" / "mlx-releases.txt")
    assert len(releases) == len({version for version, _ in releases}) > 50


def test_speedup_table_names_a_malformed_release_list_in_one_line(project, capsys):
    line, problem = MALFORMED[0]
    with project.listing.open("a") as listing:
        listing.write(line + "\n")
    status = speedup_table.main(["--results", str(ROOT / "results"), "--machine", "h100-sxm-80gb"])
    error = capsys.readouterr().err
    assert status == 1 and error.count("\n") == 1, error
    assert error.startswith(f"error: {project.listing}:") and problem in error
    assert not (project.root / ".asv").exists()
