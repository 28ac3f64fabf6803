"""asv plugin (asv.conf.json's "plugins"): before any asv command, create or update the MLX release
timeline that asv's `repo` points at, so plain `asv run`, `asv publish` and `asv find` work on a
fresh clone. asv imports it from the current directory: run asv from the project's root."""

import sys

from tools import timeline


def setup():
    try:
        timeline.build()
    except timeline.TimelineError as error:
        sys.exit(f"error: {error}")
