"""People for tests: an account with a password (no invitation page), and signing in with
it through the TestClient or a real browser."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from nurture.core.addressing import normalize_email
from nurture.core.clock import utcnow
from nurture.db import session_scope
from nurture.db.tables import User
from nurture.people.credentials import hash_password
from nurture.people.roles import parse_role

#: A password long enough for the rules, for tests that do not care which.
PASSWORD = "correct horse battery staple"


def add_person(db_url: str | None, email: str, role: str, password: str = PASSWORD) -> int:
    """An account with `role` and `password`, as if its invitation were accepted, written
    straight to the database (no audit rows, so tests of the trail see only their own);
    its id. `db_url` None: the database the settings name."""
    with session_scope(db_url) as db:
        user = User(
            email=normalize_email(email),
            name="",
            role=parse_role(role).value,
            password_hash=hash_password(password),
            recovery_codes=[],
            created_at=utcnow(),
        )
        db.add(user)
        db.flush()
        return user.id


def csrf_of(html: str) -> str:
    """The CSRF token a staff page hands out (in its Sign out form)."""
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, *, code: str = "") -> str:
    """Sign in through the form; returns the session's CSRF token."""
    response = client.post(
        "/login",
        data={"email": email, "password": password, "code": code},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/account").text)


def sign_in_browser(driver: Any, base: str, email: str, password: str = PASSWORD) -> None:
    """Sign in on the page in a WebDriver; returns once the browser left the sign-in page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base}/login")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
    WebDriverWait(driver, 30).until(lambda d: "/login" not in d.current_url)


def fill_sign_in(driver: Any, email: str, password: str = PASSWORD) -> None:
    """Fill and send the sign-in form the open page shows (any guarded page shows it, at
    its own address, to a browser without a session)."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
