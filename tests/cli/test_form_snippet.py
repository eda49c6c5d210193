"""`nurture form-snippet`: what the clinic pastes into its website."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

import nurture.cli.forms  # noqa: F401 - registers `form-snippet`
from nurture.cli import app as cli
from nurture.config import get_settings
from nurture.intake.origins import allowed_origins
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
    assert '<iframe id="nurture-form" src="https://forms.clinic.example/forms/consultation"' in out
    assert 'action="https://forms.clinic.example/forms/consultation"' in out
    names = set(re.findall(r'name="([^"]+)"', out))
    assert {"first_name", "last_name", "email", "phone", "concern", "message", "consent_email",
            "consent_sms", "consent_version_email", "consent_version_sms", "company_website",
            "form_token", "timezone"} <= names  # fmt: skip
    assert 'fetch("https://forms.clinic.example/forms/consultation/token"' in out
    assert not re.search(r'type="checkbox"[^>]*checked', out)
    assert "no website may show the form yet" not in result.output


def test_without_allowed_origins_the_clinic_is_told_to_set_them(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["form-snippet", "--kind", "iframe"])
    assert result.exit_code == 0
    assert "<form" not in result.stdout
    assert "no website may show the form yet: run again with --site" in result.output


def test_site_records_the_website_as_allowed_without_a_restart(db: str) -> None:
    assert allowed_origins(get_settings()) == ()
    result = CliRunner().invoke(cli, ["form-snippet", "--site", "https://Clinic.example/contact"])
    assert result.exit_code == 0, result.output
    assert "https://clinic.example may now show the form" in result.output
    again = CliRunner().invoke(cli, ["form-snippet", "--site", "https://clinic.example"])
    assert again.exit_code == 0
    assert allowed_origins(get_settings()) == ("https://clinic.example",)


@pytest.mark.parametrize("site", ["clinic.example", "ftp://clinic.example", ""])
def test_a_site_that_is_not_a_web_address_is_one_line(db: str, site: str) -> None:
    result = CliRunner().invoke(cli, ["form-snippet", "--site", site])
    assert result.exit_code == 1
    assert "--site" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "public_url", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"]
)
def test_a_loopback_public_url_is_refused_without_local(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, public_url: str
) -> None:
    use(env, monkeypatch, public_url=public_url)
    refused = CliRunner().invoke(cli, ["form-snippet"])
    assert refused.exit_code == 1
    assert "only this machine can reach" in refused.output and "--local" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    assert "<iframe" not in refused.output
    allowed = CliRunner().invoke(cli, ["form-snippet", "--local", "--kind", "iframe"])
    assert allowed.exit_code == 0 and f'src="{public_url}/forms/consultation"' in allowed.stdout


def test_the_frame_fits_its_content_listening_only_to_nurture(env: dict[str, str]) -> None:
    out = CliRunner().invoke(cli, ["form-snippet", "--kind", "iframe"]).stdout
    assert 'event.origin !== "https://nurture.test"' in out
    assert "event.source !== frame.contentWindow" in out
    assert 'frame.style.height = Math.ceil(data.height) + "px"' in out
