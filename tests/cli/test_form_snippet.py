"""`nurture form-snippet`: what the clinic pastes into its website."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

import nurture.cli.forms  # noqa: F401 - registers `form-snippet`
from nurture.cli import app as cli
from tests.conftest import use


def test_the_snippets_post_to_the_hosted_form_with_every_field_it_needs(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(
        env,
        monkeypatch,
        public_url="https://forms.clinic.example",
        form_origins="https://clinic.example",
    )
    result = CliRunner().invoke(cli, ["form-snippet"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert '<iframe src="https://forms.clinic.example/forms/consultation"' in out
    assert 'action="https://forms.clinic.example/forms/consultation"' in out
    names = set(re.findall(r'name="([^"]+)"', out))
    assert {"first_name", "last_name", "email", "phone", "concern", "message", "consent_email",
            "consent_sms", "consent_version_email", "consent_version_sms", "company_website",
            "form_token", "timezone"} <= names  # fmt: skip
    assert 'fetch("https://forms.clinic.example/forms/consultation/token"' in out
    assert not re.search(r'type="checkbox"[^>]*checked', out)
    assert "NURTURE_FORM_ORIGINS is empty" not in result.output


def test_without_allowed_origins_the_clinic_is_told_to_set_them(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["form-snippet", "--kind", "iframe"])
    assert result.exit_code == 0
    assert "<form" not in result.stdout
    assert "NURTURE_FORM_ORIGINS is empty" in result.output
