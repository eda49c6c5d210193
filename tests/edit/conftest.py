"""The studio's files in a folder of the test's own: schedules and templates both copied."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import use
from tests.support.studio import copy_templates


@pytest.fixture
def own_templates(
    db: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """A migrated database and a copy of the templates the settings point at."""
    folder = copy_templates(tmp_path / "templates")
    use(env, monkeypatch, templates_dir=str(folder))
    return folder
