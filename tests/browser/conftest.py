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


class PolicyWatch:
    """What a test's browser contexts saw break the Content-Security-Policy: every page the
    portal sends must carry a strict policy, and nothing on it may violate it."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def watch(self, context) -> None:
        context.on("console", self._console)
        context.on("response", self._response)

    def _console(self, message) -> None:
        # Chromium logs each violation, in any frame, sandboxed ones too.
        if "Content Security Policy" in message.text:
            self.found.append(f"{message.page.url if message.page else '?'}: {message.text}")

    def _response(self, response) -> None:
        # The portal's pages; a frame showing a message's HTML has its own policy.
        if response.request.resource_type != "document" or response.frame.parent_frame:
            return
        policy = response.headers.get("content-security-policy")
        if policy is None:
            self.found.append(f"{response.url}: no Content-Security-Policy header")
        elif not blocks_inline(policy):
            self.found.append(f"{response.url}: the policy allows inline code: {policy}")

    def take(self) -> list[str]:
        """The violations so far, for a test that caused them on purpose."""
        found, self.found = self.found, []
        return found


def blocks_inline(policy: str) -> bool:
    """Whether scripts and styles must come from a file (or carry the nonce)."""
    directives = {words[0]: words[1:] for part in policy.split(";") if (words := part.split())}
    for kind in ("script-src", "style-src"):
        sources = directives.get(kind, directives.get("default-src", []))
        if "'unsafe-inline'" in sources or "*" in sources:
            return False
    return True


@pytest.fixture(autouse=True)
def csp(request, monkeypatch) -> Iterator[PolicyWatch]:
    """Fails the browser test whose pages lack the policy or broke it (see PolicyWatch)."""
    watch = PolicyWatch()
    if "browser" in request.fixturenames:
        browser = request.getfixturevalue("browser")
        new_context = browser.new_context

        def watched_context(**options):
            context = new_context(**options)
            watch.watch(context)
            return context

        monkeypatch.setattr(browser, "new_context", watched_context)
    yield watch
    if watch.found:
        pytest.fail("Content-Security-Policy:\n" + "\n".join(watch.found))


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
    # Evaluated, not added as a <script>: the page's policy rightly refuses inline scripts.
    page.evaluate(axe.read_text())
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(" ".join(map(str, node["target"])) for node in v["nodes"])
        for v in violations
    ]
