"""The benchmark harness at tiny sizes, so it cannot rot: every figure it runs here comes
back with numbers, and the JSON names the machine. The real figures are `make bench`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import markdown
from tests.conftest import PG_DSN, ROOT, need_service
from tests.support.processes import run_in_group

pytestmark = pytest.mark.slow

#: Each exercises another part of the harness: in-process ticks and bulk loads, rendering,
#: two HTTP servers and the load generator, Celery workers against the bare baseline.
FIGURES = ("scheduler", "render", "intake", "dispatch")


def test_the_bench_runs_at_tiny_sizes_and_writes_its_results(
    redis_url: str, tmp_path: Path
) -> None:
    need_service("PostgreSQL", "127.0.0.1", 5432)
    out = tmp_path / "latest.json"
    result = run_in_group(
        [
            sys.executable,
            "-m",
            "bench",
            "--scale",
            "tiny",
            "--repeat",
            "1",
            "--only",
            ",".join(FIGURES),
            "--redis-url",
            redis_url,
            "--pg",
            PG_DSN,
            "--out",
            str(out),
        ],
        cwd=ROOT,
        timeout_s=110,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["machine"]["nproc"] >= 1 and data["machine"]["cpu_model"]
    figures = {f["key"]: f for f in data["figures"]}
    assert set(figures) == set(FIGURES)
    for key, figure in figures.items():
        assert figure["skipped"] is None, key
        assert figure["measures"], key
        for measure in figure["measures"]:
            assert measure["median"] > 0, (key, measure["name"])
    intake = {m["name"]: m for m in figures["intake"]["measures"]}
    assert intake["nurture POST /v1/consultation-requests"]["ratio"] is not None
    assert "nurture benchmarks" in result.stdout
    table = markdown(data)  # what docs/PERFORMANCE.md shows
    assert table.count("\n") >= sum(len(f["measures"]) for f in data["figures"]) + 1


@pytest.mark.timeout(660)  # the command's own 600 s, and its workers stopped after
def test_the_sdk_figure_prints_nurtures_ratio_to_the_bare_sdk_task(
    redis_url: str, tmp_path: Path
) -> None:
    need_service("PostgreSQL", "127.0.0.1", 5432)
    out = tmp_path / "sdk.json"
    result = run_in_group(
        [
            *(sys.executable, "-m", "bench", "--scale", "tiny", "--repeat", "1", "--only", "sdk"),
            *("--redis-url", redis_url, "--pg", PG_DSN, "--out", str(out)),
        ],
        cwd=ROOT,
        timeout_s=600,  # five worker processes start on a loaded machine
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [figure] = json.loads(out.read_text())["figures"]
    measures = {m["name"]: m for m in figure["measures"]}
    rate, cpu = measures["nurture msg/s (SDK path)"], measures["nurture CPU per msg (worker)"]
    assert rate["ratio"] > 0 and cpu["ratio"] > 0
    assert measures["lateness p99 at 80% of peak"]["median"] > 0
    # The headline `make bench` prints under the table.
    assert f"= {rate['ratio']:.2f}x the bare SDK task" in " ".join(result.stdout.split())


def test_the_bench_refuses_an_unknown_figure() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "warp-drive"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "unknown figure(s) warp-drive" in result.stderr
