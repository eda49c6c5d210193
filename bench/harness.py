"""What every figure shares: repeated measures, medians, ratios to a same-run baseline,
targets, the table and `bench/results/latest.json`."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from bench.providers import Provider
from bench.stack import Stack

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Target:
    """A goal on the median (`on="value"`) or on its ratio to the baseline (`on="ratio"`)."""

    op: Literal["<=", ">="]
    value: float
    on: Literal["value", "ratio"] = "value"

    def met(self, value: float, ratio: float | None) -> bool | None:
        subject = value if self.on == "value" else ratio
        if subject is None:
            return None
        return subject <= self.value if self.op == "<=" else subject >= self.value

    def __str__(self) -> str:
        unit = "x baseline" if self.on == "ratio" else ""
        return f"{self.op} {self.value:g}{unit}"


@dataclass
class Measure:
    """One figure's number: every run's value, and its median."""

    name: str
    unit: str
    runs: list[float] = field(default_factory=list)
    #: The name of the measure in the same figure this one is compared with.
    baseline: str | None = None
    target: Target | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else float("nan")


@dataclass
class Figure:
    """The measures of one figure, in the order they are shown."""

    key: str
    title: str
    measures: list[Measure] = field(default_factory=list)
    skipped: str | None = None

    def add(self, name: str, unit: str, **kwargs: Any) -> Measure:
        measure = Measure(name, unit, **kwargs)
        self.measures.append(measure)
        return measure

    def get(self, name: str) -> Measure:
        return next(m for m in self.measures if m.name == name)

    def ratio(self, measure: Measure) -> float | None:
        if measure.baseline is None:
            return None
        base = self.get(measure.baseline).median
        return measure.median / base if base else None

    def to_json(self) -> dict[str, Any]:
        rows = []
        for m in self.measures:
            ratio = self.ratio(m)
            rows.append(
                {
                    "name": m.name,
                    "unit": m.unit,
                    "median": m.median,
                    "runs": m.runs,
                    "baseline": m.baseline,
                    "ratio": ratio,
                    "target": str(m.target) if m.target else None,
                    "met": m.target.met(m.median, ratio) if m.target else None,
                    "note": m.note,
                }
            )
        return {"key": self.key, "title": self.title, "skipped": self.skipped, "measures": rows}


@dataclass(frozen=True)
class Scale:
    """How big each figure runs: `full` for the real numbers, `tiny` for the smoke test."""

    dispatch_messages: int
    #: Deliveries per send task to measure (NURTURE_SEND_CHUNK), each against the baseline.
    dispatch_chunks: tuple[int, ...]
    scheduler_sizes: tuple[int, ...]
    scheduler_ticks: int
    memory_sizes: tuple[int, ...]
    naive_eta_tasks: int
    intake_requests: int
    render_messages: int
    #: Figure 0, the SDK path: messages per run (`--sdk-messages` for a quick run).
    sdk_messages: int = 8000


SCALES = {
    "full": Scale(
        dispatch_messages=4000,
        dispatch_chunks=(1, 10),
        scheduler_sizes=(10_000, 100_000, 1_000_000),
        scheduler_ticks=50,
        memory_sizes=(10_000, 1_000_000),
        naive_eta_tasks=100_000,
        intake_requests=6000,
        render_messages=2000,
    ),
    "tiny": Scale(
        dispatch_messages=80,
        dispatch_chunks=(10,),
        scheduler_sizes=(200, 1000),
        scheduler_ticks=3,
        memory_sizes=(100, 1000),
        naive_eta_tasks=200,
        intake_requests=60,
        render_messages=20,
        sdk_messages=80,
    ),
}


@dataclass
class Run:
    """What a figure gets: the stack, the sizes, the repeat count and the provider."""

    stack: Stack
    scale: Scale
    repeat: int
    provider: Provider
    console: Console

    def say(self, text: str) -> None:
        self.console.print(f"[dim]{datetime.now(UTC):%H:%M:%S}[/dim] {text}")


FigureFn = Callable[[Run], Figure]


def _fmt(value: float | None) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def table(figures: list[Figure]) -> Table:
    out = Table(title="nurture benchmarks (medians; ratios against the same-run baseline)")
    for column in ("figure", "measure", "median", "unit", "runs", "vs baseline", "target", "met"):
        out.add_column(column, justify="right" if column in ("median", "vs baseline") else "left")
    for fig in figures:
        if fig.skipped:
            out.add_row(fig.title, f"[yellow]skipped: {fig.skipped}[/yellow]", *[""] * 6)
            continue
        for i, m in enumerate(fig.measures):
            ratio = fig.ratio(m)
            met = m.target.met(m.median, ratio) if m.target else None
            out.add_row(
                fig.title if i == 0 else "",
                m.name + (f" [dim]({m.note})[/dim]" if m.note else ""),
                _fmt(m.median),
                m.unit,
                str(len(m.runs)),
                f"{_fmt(ratio)}x" if ratio is not None else "",
                str(m.target or ""),
                {True: "[green]yes[/green]", False: "[red]no[/red]", None: ""}[met],
            )
        out.add_section()
    return out


def machine() -> dict[str, Any]:
    """The machine the numbers come from: cores, CPU model, memory."""
    import psutil

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def write_json(path: Path, figures: list[Figure], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**meta, "machine": machine(), "figures": [f.to_json() for f in figures]}
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
