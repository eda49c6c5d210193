"""`python -m bench.report [FILE]`: a results file (default bench/results/latest.json) as the
Markdown table docs/PERFORMANCE.md shows."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.harness import RESULTS


def _fmt(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def markdown(data: dict[str, Any]) -> str:
    lines = [
        "| figure | measure | median | unit | runs | vs baseline | target | met |",
        "|---|---|---:|---|---:|---:|---|---|",
    ]
    for fig in data["figures"]:
        if fig["skipped"]:
            lines.append(f"| {fig['title']} | skipped: {fig['skipped']} | | | | | | |")
            continue
        for i, m in enumerate(fig["measures"]):
            name = m["name"] + (f" ({m['note']})" if m["note"] else "")
            ratio = f"{_fmt(m['ratio'])}x" if m["ratio"] is not None else ""
            met = {True: "yes", False: "**no**", None: ""}[m["met"]]
            lines.append(
                f"| {fig['title'] if i == 0 else ''} | {name} | {_fmt(m['median'])} | {m['unit']}"
                f" | {len(m['runs'])} | {ratio} | {m['target'] or ''} | {met} |"
            )
    return "\n".join(lines)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS / "latest.json"
    data = json.loads(path.read_text())
    print(markdown(data))
    print(f"\n`{data['command']}`, {data['started_at'][:16]} UTC, scale {data['scale']}.")


if __name__ == "__main__":
    main()
