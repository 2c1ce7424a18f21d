#!/usr/bin/env python3
"""Convert the cross-checked matrix in shared/data/triz/ into the project's own matrix.json.

Run by hand when the shared data changes:
    python3 scripts/import_matrix.py ../shared/data/triz synapse/triz/data
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path


def main(src: Path, dst: Path) -> None:
    with (src / "matrix.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    votes: dict[tuple[int, int], str] = {}
    notes: dict[tuple[int, int], str] = {}
    # The vote counts and notes live in the provenance table (section 4 of SOURCES.md).
    for line in (src / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\| \((\d+),(\d+)\) \| [^|]* \| (\d/\d) \|(?:[^|]*\|){6} ([^|]*)\|", line)
        if m:
            key = (int(m.group(1)), int(m.group(2)))
            votes[key] = m.group(3)
            notes[key] = m.group(4).strip()
    with (src / "disputed_cells.csv").open(encoding="utf-8") as fh:
        disputed = {
            (int(r["improving"]), int(r["worsening"]))
            for r in csv.DictReader(fh)
            if r["dispute_kind"] == "independent-sources"
        }
    cells = []
    for r in rows:
        key = (int(r["improving"]), int(r["worsening"]))
        cell: dict[str, object] = {
            "improving": key[0],
            "worsening": key[1],
            "principles": [int(p) for p in r["principles"].split()],
        }
        if key in disputed:
            cell["votes"] = votes.get(key, "")
            if notes.get(key):
                cell["note"] = notes[key]
        cells.append(cell)
    out = {
        "source": "shared/data/triz/matrix.csv: majority of five independent source lineages (see MATRIX_SOURCES.md)",
        "disputed_rule": "cells with `votes` were disputed between independent lineages; 3/5 marks a close call",
        "cells": cells,
    }
    target = dst / "matrix.json"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    tmp.replace(target)
    (dst / "MATRIX_SOURCES.md").write_text((src / "SOURCES.md").read_text(encoding="utf-8"), encoding="utf-8")
    print(f"{len(cells)} cells, {len(disputed)} disputed ({sum(1 for c in cells if 'votes' in c)} with votes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
