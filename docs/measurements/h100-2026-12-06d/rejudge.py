"""The verdicts of a tools.fidelity report judged again by the current rule (asv's own processes beside
the check's), from the report's table and the asv results it checked; nothing measured again.

    python docs/measurements/h100-2026-12-06d/rejudge.py REPORT.md RESULTS.json.gz

The report's events, levels, host and first-window figures come back from its table (three decimals);
asv's figures and its processes' levels come from the results, as tools.fidelity reads them."""

import gzip
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository's root, for its tools
from tools import fidelity  # noqa: E402
from tools.speedup_table import load_results, pick_result  # noqa: E402

MACHINE = "h100-sxm-80gb"


def records_of(report):
    """tools.fidelity's records, from the rows of its table that have events."""
    records = []
    for line in Path(report).read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 9 or " / " not in cells[0] or cells[4] == "n/a":
            continue
        family, case = cells[0].split(" / ", 1)
        low, high = map(float, cells[5].split("-"))
        records.append({"family": family, "case": case, "backend": cells[1], "precision": cells[2],
                        "events_ms": float(cells[4]), "levels_ms": (low, high), "first_ms": float(cells[6]),
                        "host_ms": float(cells[7]), "calls": 0})
    return records


def main(report, results_gz):
    with tempfile.TemporaryDirectory() as folder:
        machine = Path(folder) / MACHINE
        machine.mkdir()
        (machine / "machine.json").write_text('{"machine": "%s", "version": 1}' % MACHINE)
        with gzip.open(results_gz) as packed, open(machine / Path(results_gz).name.removesuffix(".gz"), "wb") as out:
            shutil.copyfileobj(packed, out)
        result = pick_result(load_results(folder, MACHINE)[MACHINE], MACHINE, None)
        print(fidelity.report(records_of(report), fidelity.asv_figures(result), f"{report}, judged again",
                              fidelity.asv_levels(result)))


if __name__ == "__main__":
    main(*sys.argv[1:])
