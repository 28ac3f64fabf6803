"""asv's build and install steps for MLX: what puts one MLX into an asv virtualenv.

asv runs these with the environment's own python and without a shell, so this file imports only the
standard library and is run by path (python {conf_dir}/tools/mlx_wheels.py ...).

    release BUILD_DIR            asv.conf.json's install step: the timeline commit checked out in
                                 BUILD_DIR names a release (MLX_VERSION); install its published wheels
    build BUILD_DIR CACHE_DIR    asv.upstream.conf.json's build step: an MLX checkout at a release tag
                                 takes the published wheels, any other commit is built from source
    install CACHE_DIR            asv.upstream.conf.json's install step: install what `build` left

The backend package is this machine's: mlx-metal on macOS, mlx-cuda-13 where nvidia-smi exists
(MLXBENCH_MLX_PACKAGE=mlx-cuda-12 for CUDA 12 drivers), mlx-cpu otherwise. Where pip's wheels come
from is pip's own configuration (PIP_INDEX_URL, PIP_FIND_LINKS, ...).
"""

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

BACKEND_PACKAGES = ("mlx-cpu", "mlx-metal", "mlx-cuda-12", "mlx-cuda-13")
PACKAGE_VARIABLE = "MLXBENCH_MLX_PACKAGE"
RELEASE_TAG = re.compile(r"^v(\d+\.\d+\.\d+)$")
WHEELS = "mlx-wheels"  # a folder of the build cache: asv refuses a cache holding several wheels at its top


class InstallError(Exception):
    """One line for the user; asv shows it and marks this commit's environment failed."""


def backend_package():
    chosen = os.environ.get(PACKAGE_VARIABLE)
    if chosen:
        if chosen not in BACKEND_PACKAGES:
            raise InstallError(f"{PACKAGE_VARIABLE}={chosen!r} is not one of {', '.join(BACKEND_PACKAGES)}")
        return chosen
    if platform.system() == "Darwin":
        return "mlx-metal"
    return "mlx-cuda-13" if shutil.which("nvidia-smi") else "mlx-cpu"


def source_build_cmake_args():
    """CMake settings for a source build of the backend this machine needs (Metal is MLX's default on macOS)."""
    package = backend_package()
    if package.startswith("mlx-cuda"):
        return "-DMLX_BUILD_CUDA=ON"
    return "" if package == "mlx-metal" else "-DMLX_BUILD_METAL=OFF"


def pip(*args):
    return subprocess.run([sys.executable, "-m", "pip", *args]).returncode


def has_wheel(requirement):
    """Whether pip finds a wheel of `requirement` for this platform and Python (resolves, installs
    nothing). pip says the same when it cannot reach its index; a package it finds no version of at all
    is that (or an index without MLX), and an error."""
    probe = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed",
             "--only-binary=:all:", "--quiet", requirement]
    run = subprocess.run(probe, capture_output=True, text=True)
    if run.returncode != 0 and "(from versions: none)" in run.stderr:
        refused = re.findall(r"\[Errno -?\d+\] [^'\")]+|Read timed out", run.stderr)
        raise InstallError(f"pip's index lists no version of {requirement.split('==')[0]} at all"
                           f"{f' ({refused[-1]})' if refused else ''}: check the network and pip's index "
                           "(PIP_INDEX_URL)")
    return run.returncode == 0


def release_requirements(version):
    """mlx and this machine's backend package at `version`; an error naming the one without a wheel here."""
    wanted = [f"mlx=={version}", f"{backend_package()}=={version}"]
    for requirement in wanted:
        if not has_wheel(requirement):
            where = f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"
            raise InstallError(f"mlx {version}: no {requirement} wheel for this platform ({where}) in pip's index; "
                               "the release predates that package or was not built for it")
    return wanted


def release_of_checkout(build_dir):
    path = Path(build_dir) / "MLX_VERSION"
    if not path.is_file():
        raise InstallError(f"{path} is missing: asv's repo is not the MLX release timeline (`make timeline`)")
    return path.read_text().strip()


def install_release(build_dir):
    version = release_of_checkout(build_dir)
    requirements = release_requirements(version)
    print(f"mlx-bench: installing {' '.join(requirements)}", flush=True)
    if pip("install", "--only-binary=:all:", *requirements) != 0:
        raise InstallError(f"mlx {version}: `pip install {' '.join(requirements)}` failed; pip's output is above")


def release_tag(build_dir):
    """The release version if the checkout is exactly at a tag vX.Y.Z, else None."""
    described = subprocess.run(["git", "-C", str(build_dir), "describe", "--exact-match", "--tags", "HEAD"],
                               capture_output=True, text=True)
    match = RELEASE_TAG.match(described.stdout.strip()) if described.returncode == 0 else None
    return match[1] if match else None


def build(build_dir, cache_dir):
    wheels = Path(cache_dir) / WHEELS
    shutil.rmtree(wheels, ignore_errors=True)  # a failed earlier build leaves nothing behind to install
    version = release_tag(build_dir)
    if version:
        requirements = release_requirements(version)
        print(f"mlx-bench: v{version} is a release: using its published wheels {' '.join(requirements)}", flush=True)
        code = pip("download", "--no-deps", "--only-binary=:all:", "--dest", str(wheels), *requirements)
    else:
        cmake_args = source_build_cmake_args()
        print(f"mlx-bench: not a release commit: building from source (CMAKE_ARGS={cmake_args!r})", flush=True)
        os.environ["CMAKE_ARGS"] = f"{os.environ.get('CMAKE_ARGS', '')} {cmake_args}".strip()
        code = pip("wheel", "--no-deps", "--wheel-dir", str(wheels), str(build_dir))
    if code != 0:
        shutil.rmtree(wheels, ignore_errors=True)
        what = f"downloading the mlx {version} wheels" if version else "the source build"
        raise InstallError(f"{what} failed (pip exit {code}); pip's output is above")


def install_built(cache_dir):
    wheels = sorted(str(path) for path in (Path(cache_dir) / WHEELS).glob("*.whl"))
    if not wheels:
        raise InstallError(f"no wheel in {Path(cache_dir) / WHEELS}: the build step did not finish")
    if pip("install", "--no-deps", "--force-reinstall", *wheels) != 0:
        raise InstallError(f"installing {', '.join(Path(w).name for w in wheels)} failed; pip's output is above")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="mlx_wheels.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("release", help="install the release the timeline checkout names").add_argument("build_dir")
    built = commands.add_parser("build", help="wheels for an MLX checkout: published at a release tag, else built")
    built.add_argument("build_dir")
    built.add_argument("cache_dir")
    commands.add_parser("install", help="install the wheels `build` left").add_argument("cache_dir")
    args = parser.parse_args(argv)
    try:
        if args.command == "release":
            install_release(args.build_dir)
        elif args.command == "build":
            build(args.build_dir, args.cache_dir)
        else:
            install_built(args.cache_dir)
    except InstallError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
