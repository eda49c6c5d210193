"""Choosing channels from settings: a backend without its credentials says which are missing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nurture.channels import make_channel
from nurture.channels.outbox import OutboxEmailChannel, OutboxSmsChannel
from nurture.channels.sendgrid import SendGridChannel
from nurture.channels.twilio import TwilioChannel
from nurture.config import Settings
from nurture.core.states import Channel
from nurture.errors import ConfigError
from tests.conftest import ROOT


def test_the_default_channels_are_the_outbox() -> None:
    settings = Settings()
    assert isinstance(make_channel(Channel.EMAIL, settings), OutboxEmailChannel)
    assert isinstance(make_channel(Channel.SMS, settings), OutboxSmsChannel)


def test_sendgrid_without_an_api_key_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="NURTURE_SENDGRID_API_KEY"):
        make_channel(Channel.EMAIL, Settings(email_backend="sendgrid"))


def test_twilio_without_credentials_names_each_missing_variable() -> None:
    with pytest.raises(ConfigError) as missing:
        make_channel(Channel.SMS, Settings(sms_backend="twilio"))
    assert "NURTURE_TWILIO_ACCOUNT_SID, NURTURE_TWILIO_AUTH_TOKEN" in str(missing.value)


def test_twilio_without_a_sender_asks_for_a_number_or_a_messaging_service() -> None:
    settings = Settings(sms_backend="twilio", twilio_account_sid="AC1", twilio_auth_token="t")
    with pytest.raises(ConfigError, match="NURTURE_TWILIO_FROM or NURTURE_TWILIO_MESSAGING"):
        make_channel(Channel.SMS, settings)


def test_configured_providers_get_their_channels() -> None:
    settings = Settings(
        email_backend="sendgrid",
        sendgrid_api_key="SG.x",
        sms_backend="twilio",
        twilio_account_sid="AC1",
        twilio_auth_token="t",
        twilio_messaging_service_sid="MG1",
        public_url="https://nurture.example/",
    )
    email, sms = make_channel(Channel.EMAIL, settings), make_channel(Channel.SMS, settings)
    assert isinstance(email, SendGridChannel) and isinstance(sms, TwilioChannel)
    assert sms.status_callback == "https://nurture.example/webhooks/twilio/status"


def test_a_worker_with_a_backend_missing_its_credentials_refuses_to_start(
    env: dict[str, str],
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nurture.cli", "worker"],
        env={**os.environ, **env, "NURTURE_EMAIL_BACKEND": "sendgrid"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "NURTURE_SENDGRID_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr
