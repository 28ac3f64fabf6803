"""The published site (asv publish) without internet: asv 0.6.6's index.html loads jQuery, flot and
bootstrap from CDNs, and shows only "Can not determine continental origin of swallow" where they
cannot be reached (air-gapped benchmark machines, this project's CI). `offline` copies the vendored
copies in tools/site_vendor/ next to the site and points index.html at them.

    python -m tools.site offline [HTML_DIR]     # after `asv publish`; default: html

A reference to a CDN not listed here (another asv version) is an error naming it: the site is left
as asv wrote it.
"""

import argparse
import base64
import hashlib
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = Path(__file__).resolve().parent / "site_vendor"
CDN = {
    "https://code.jquery.com/jquery-3.3.1.min.js": "jquery-3.3.1.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js": "jquery.flot.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js": "jquery.flot.time.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js": "jquery.flot.selection.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js": "jquery.flot.categories.js",
    "https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js": "jquery.flot.orderBars.js",
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js": "stupidtable.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js": "md5.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js": "bootstrap.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css": "bootstrap.min.css",
}
TAG = re.compile(r"<(?:script|link)\b[^>]*?(?:src|href)=\"(https?://[^\"]+)\"[^>]*>")
INTEGRITY = re.compile(r'\s+integrity="(sha\d+)-([^"]+)"')


class SiteError(Exception):
    pass


def _verified(tag, path):
    """The tag with its integrity hash kept where the local copy has the CDN's very bytes, else dropped."""
    found = INTEGRITY.search(tag)
    if not found:
        return tag
    digest = base64.b64encode(hashlib.new(found[1], path.read_bytes()).digest()).decode()
    return tag if digest == found[2] else INTEGRITY.sub("", tag)


def offline(html_dir):
    index = Path(html_dir) / "index.html"
    if not index.is_file():
        raise SiteError(f"{index} is missing: run `asv publish` first")
    text = _read(index)
    unknown = [url for url in TAG.findall(text) if url not in CDN]
    if unknown:
        raise SiteError(f"{index} loads {', '.join(unknown)}, which tools/site.py has no copy of; site left as is")

    def local(match):
        name = CDN[match[1]]
        return _verified(match[0], VENDOR / name).replace(match[1], f"vendor/{name}")

    rewritten = TAG.sub(local, text)
    vendor = Path(html_dir) / "vendor"
    try:
        shutil.copytree(VENDOR, vendor, dirs_exist_ok=True)
    except shutil.Error as error:  # copytree goes on past a file it cannot copy, then lists them: (src, dst, why)
        raise _unwritable(vendor, error.args[0][0][2]) from None
    except OSError as error:
        raise _unwritable(vendor, error.strerror) from None
    try:
        _replace(index, rewritten)
    except OSError as error:
        raise _unwritable(index, error.strerror) from None


def _unwritable(path, reason):
    return SiteError(f"cannot write {path} ({reason}); make it and its folder writable, then run again: "
                     "index.html is left as it was")


def _read(index):
    try:
        return index.read_text(encoding="utf-8")  # as asv writes it, whatever this machine's locale
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8"
        raise SiteError(f"{index} cannot be read ({reason}); run `asv publish` again to write it anew") from None


def _replace(index, text):
    """`text` in place of index.html, whole or not at all: no temporary left beside it where that fails."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=index.parent, delete=False, suffix=".tmp") as tmp:
        try:
            tmp.write(text)
            tmp.close()
            os.chmod(tmp.name, 0o644)  # a temporary file is private; the site is served to all
            os.replace(tmp.name, index)
        finally:
            Path(tmp.name).unlink(missing_ok=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.site", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("offline", help="serve the site's scripts from local copies").add_argument(
        "html_dir", nargs="?", default=str(ROOT / "html"))
    args = parser.parse_args(argv)
    try:
        offline(args.html_dir)
    except SiteError as error:
        sys.exit(f"error: {error}")
    print(f"{args.html_dir}: scripts and styles served from {args.html_dir}/vendor")


if __name__ == "__main__":
    main()
