"""Shared pieces of the browser tests: find headless Chromium, launch it, watch what a page does.

The tests drive Debian's ``chromium`` with Playwright for Python (the ``site`` extra). On a
reader's machine without them the tests skip with a message that names what to install; in CI
(``CI=true``) they fail instead, so CI never skips them silently.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# No network, no background services, nothing that needs a GPU or a display.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-dev-shm-usage"]
TIMEOUT_MS = 30_000


def chromium_path() -> str | None:
    """Chromium's executable: $COURSE_CHROMIUM, else `chromium` (Debian) or `chromium-browser` on PATH."""
    return os.environ.get("COURSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def require_browser() -> str:
    """Return Chromium's path; skip (fail in CI) naming what is missing and how to install it."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python (pip install -e '.[site]')")
    path = chromium_path()
    if not path:
        missing.append("Chromium (Debian/Ubuntu: sudo apt-get install chromium; "
                       "or set COURSE_CHROMIUM to a Chromium executable)")
    if missing:
        message = "the browser tests need " + " and ".join(missing)
        if IN_CI:
            pytest.fail(message + ": CI must run them, not skip them")
        pytest.skip(message)
    return path


def require_module(name: str, what: str):
    """Import `name` or skip (fail in CI) saying what to install."""
    try:
        return __import__(name)
    except ImportError:
        message = f"{what} needs {name}: pip install -e '.[site]'"
        if IN_CI:
            pytest.fail(message + " (CI must run it)")
        pytest.skip(message)


@contextlib.contextmanager
def launched_chromium():
    """Yield a Playwright Browser on Debian's Chromium; always closes it."""
    path = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True,
                                     timeout=TIMEOUT_MS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageLog:
    """What a page did: console errors, uncaught exceptions, failed requests, every request URL."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def attach(self, page) -> PageLog:
        page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(
            f"{msg.text} @ {msg.location.get('url', '')}:{msg.location.get('lineNumber', '')}"))
        page.on("pageerror", lambda err: self.page_errors.append(str(err)))
        page.on("requestfailed", lambda req: self.failed_requests.append(f"{req.url}: {req.failure}"))
        page.on("request", lambda req: self.requests.append(req.url))
        page.on("response", lambda res: res.status >= 400 and self.bad_responses.append(f"{res.status} {res.url}"))
        return self

    def problems(self) -> list[str]:
        return ([f"console error: {e}" for e in self.console_errors]
                + [f"uncaught exception: {e}" for e in self.page_errors]
                + [f"failed request: {e}" for e in self.failed_requests]
                + [f"HTTP error: {e}" for e in self.bad_responses])
