#!/usr/bin/env python3
"""Score the contradiction analyzer on a JSONL set: hit@1, hit@3 and time per statement.

    python bench/triz_eval.py ../shared/eval/contradictions_dev.jsonl [--embedder none] [--show-misses]

Each line: {"id", "lang", "problem", "accept": [[improving, worsening], ...]}. A hit is any accepted
ordered pair among the top candidates. Lines with an empty `accept` are statements without a
contradiction: they count as correct when the analyzer returns no candidate.
The reference is the same analyzer without the embedder (lexicon only), run on the same set.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from synapse.embeddings import get_embedder
from synapse.paths import default_cache_dir
from synapse.triz import ContradictionAnalyzer


def evaluate(analyzer: ContradictionAnalyzer, cases: list[dict], show_misses: bool, console: Console) -> dict:
    rows: dict[str, dict[str, list[float]]] = {}
    for case in cases:
        t0 = time.perf_counter()
        result = analyzer.analyze(case["problem"], lang="auto", top=3)
        elapsed = time.perf_counter() - t0
        pairs = [(c.improving.id, c.worsening.id) for c in result.candidates]
        accept = {tuple(p) for p in case["accept"]}
        group = "none" if not accept else case["lang"]
        stats = rows.setdefault(group, {"hit1": [], "hit3": [], "time": []})
        if accept:
            stats["hit1"].append(float(bool(pairs[:1] and pairs[0] in accept)))
            stats["hit3"].append(float(any(p in accept for p in pairs[:3])))
        else:
            stats["hit1"].append(float(not pairs))
            stats["hit3"].append(float(not pairs))
        stats["time"].append(elapsed)
        if show_misses and not stats["hit3"][-1]:
            console.print(f"[red]miss[/] {case['id']} accept={sorted(accept)} got={pairs}  {case['problem']}")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", type=Path)
    ap.add_argument("--embedder", default="use-multilingual", help="embedder name, or 'none'")
    ap.add_argument("--show-misses", action="store_true")
    ap.add_argument("--no-reference", action="store_true", help="skip the lexicon-only reference run")
    args = ap.parse_args()
    cases = [json.loads(line) for line in args.cases.read_text(encoding="utf-8").splitlines() if line.strip()]
    console = Console()

    configs = [args.embedder]
    if not args.no_reference and args.embedder != "none":
        configs.append("none")
    table = Table(title=f"TRIZ analyzer on {args.cases.name} ({len(cases)} statements)")
    for col in ("method", "group", "n", "hit@1", "hit@3", "mean ms", "max ms", "start-up s"):
        table.add_column(col, justify="right" if col not in ("method", "group") else "left")
    for name in configs:
        t0 = time.perf_counter()
        embedder = None if name == "none" else get_embedder(name)
        analyzer = ContradictionAnalyzer(embedder=embedder, cache_dir=default_cache_dir() / "analyzer")
        analyzer.warm_up()
        startup = time.perf_counter() - t0
        rows = evaluate(analyzer, cases, args.show_misses and name == args.embedder, console)
        label = analyzer.method if name == "none" else f"{analyzer.method} ({name})"
        groups = [g for g in ("en", "ru", "none") if g in rows]
        every = {k: [v for g in groups if g != "none" for v in rows[g][k]] for k in ("hit1", "hit3", "time")}
        for group, stats in [*((g, rows[g]) for g in groups), ("all", every)]:
            if not stats["time"]:
                continue
            table.add_row(
                label,
                "no contradiction" if group == "none" else group,
                str(len(stats["time"])),
                f"{statistics.mean(stats['hit1']):.2f}",
                f"{statistics.mean(stats['hit3']):.2f}",
                f"{1000 * statistics.mean(stats['time']):.0f}",
                f"{1000 * max(stats['time']):.0f}",
                f"{startup:.1f}" if group == groups[0] else "",
            )
    console.print(table)


if __name__ == "__main__":
    main()
