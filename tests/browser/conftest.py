"""Playwright driving Debian's chromium against pytest-django's live server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# axe-core from package-lock.json; `make test` installs it with `npm ci`.
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Each browser test module sets: pytestmark = BROWSER_TEST
# The live server needs committed data, so these tests are transactional.
BROWSER_TEST = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _stages(seeded_transactional_db: None) -> None:
    """Browser tests need committed data and the seeded stages."""


def _missing(reason: str) -> None:
    if os.environ.get("STAGEMAIL_REQUIRE_BROWSER"):
        pytest.fail(reason)  # CI must not pass without the browser tests
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        _missing("Debian's chromium is missing; install it with `apt-get install chromium`.")
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the
    # tests themselves are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server) -> Iterator[object]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot():
    """Save a screenshot under $STAGEMAIL_SCREENSHOTS (used by `make screenshots`)."""
    folder = os.environ.get("STAGEMAIL_SCREENSHOTS")

    def take(page, name: str) -> None:
        if not folder:
            return
        # Chromium paints a sandboxed frame (the HTML parts) only while it is in the
        # viewport, so the viewport grows to the whole page for the shot.
        size = page.viewport_size
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
        page.set_viewport_size(size)

    return take


def sign_in(page, username: str, password: str) -> None:
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Sign out").or_(
        page.get_by_role("button", name="Sign out")
    ).wait_for()


@pytest.fixture(scope="session")
def axe() -> Path:
    if not AXE.exists():
        _missing("axe-core is missing; `make test` installs it (npm ci, from package-lock.json).")
    return AXE


def axe_violations(page, axe: Path) -> list[str]:
    """Run axe-core's default rules on the page; one line per violation, empty when clean."""
    page.add_script_tag(path=str(axe))
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(" ".join(map(str, node["target"])) for node in v["nodes"])
        for v in violations
    ]
