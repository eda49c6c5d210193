"""The last good schedule files, kept in the database: a process that starts while the files
are broken sends from them, and still says the files are broken."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from nurture.config import get_settings
from nurture.content.live import LiveCatalog
from nurture.db.catalog_versions import CatalogVersions
from nurture.schedule.versions import files_sha256, read_version, write_version
from tests.conftest import ApiProcess, wait_for
from tests.helpers import outbox
from tests.support.running import post_request


def test_store_keeps_a_new_set_once_and_latest_gives_the_last(db: str) -> None:
    versions = CatalogVersions()
    assert versions.latest() is None
    first = {"schedules/a.yaml": "id: a\n", "templates/a/x.sms.j2": "Hi"}
    second = {**first, "templates/a/x.sms.j2": "Hello"}
    one = versions.store(first)
    assert versions.store(first) == one, "the same files again add nothing"
    two = versions.store(second)
    assert two != one
    assert versions.latest() == second
    assert versions.store(first) not in (one, two), "going back is a new version"
    assert versions.latest() == first


def test_a_version_written_back_reads_as_the_same_files(tmp_path: Path) -> None:
    files = {"schedules/a.yaml": "id: a\n", "templates/a/b/x.sms.j2": "Hi {{ x }}"}
    schedules, templates = write_version(files, tmp_path)
    assert read_version(schedules, templates) == files
    assert write_version(files, tmp_path) == (schedules, templates)
    assert schedules.parent.name == files_sha256(files)[:16]


def test_a_file_name_leaving_the_folder_is_refused(tmp_path: Path) -> None:
    from nurture.errors import ScheduleError

    with pytest.raises(ScheduleError, match="unexpected file name"):
        write_version({"templates/../../evil.j2": "x"}, tmp_path)


def _break(schedules: Path) -> None:
    path = schedules / "fast.yaml"
    path.write_text(path.read_text() + "colour: blue\n")


def test_a_fresh_process_on_broken_files_loads_the_last_good_version(
    db: str, env: dict[str, str]
) -> None:
    settings = get_settings()
    LiveCatalog(settings, versions=CatalogVersions()).refresh()  # an earlier process
    _break(settings.schedules_dir)
    fresh = LiveCatalog(settings, versions=CatalogVersions()).refresh()
    assert fresh.current is not None and "fast" in fresh.current.sequences
    status = fresh.status()
    assert status["ok"] is False and status["loaded"] is True
    assert status["source"] == "database"
    assert any("colour" in p["message"] for p in status["problems"])
    # Without a stored version there is nothing to fall back on.
    alone = LiveCatalog(settings).refresh()
    assert alone.current is None and alone.status()["source"] is None


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_worker_started_after_the_files_broke_sends_from_the_last_good_version(
    db: str, env: dict[str, str], tmp_path: Path, start_worker: object
) -> None:
    settings = get_settings()
    LiveCatalog(settings, versions=CatalogVersions()).refresh()  # validated once, stored
    _break(settings.schedules_dir)
    worker = start_worker()  # type: ignore[operator]
    api = ApiProcess(env, tmp_path / "api.log").start()
    try:
        assert post_request(api, 7).status_code == 201
        wait_for(
            lambda: any("p7@example.com" in p.read_text() for p in outbox("email")),
            timeout_s=90,
            message="the first email, sent from the stored version",
        )
        ready = httpx.get(f"{api.base}/readyz", timeout=10, trust_env=False).json()
        assert ready["status"] == "degraded" and "fast.yaml" in ready["catalog"]
        assert "sending goes on with the last good version" in ready["catalog"]
        assert '"catalog.last_good_version_loaded"' in worker.log()
        assert "no valid schedules loaded yet" not in worker.log()
    finally:
        api.stop()
