"""axe-core on every portal page at two widths, with flash messages and forms with errors;
and the keyboard checks that axe cannot make."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse
from playwright.sync_api import expect

from emailconfig import urls
from emailconfig.models import App, EmailConfiguration, EmailTemplate, Message, SinkMessage
from emailconfig.services import configurations, tokens
from emailconfig.worker import Worker
from tests import factories
from tests.browser.conftest import BROWSER_TEST, axe_violations, sign_in
from tests.servers import smtp_server

pytestmark = BROWSER_TEST

WIDTHS = [1280, 375]


@dataclass(frozen=True)
class Seed:
    configuration: EmailConfiguration
    template: EmailTemplate
    app: App
    message: Message
    received: SinkMessage
    person: Any


def _seed(admin_user) -> Seed:
    """Something on every page: versions to compare, an app behind, a failed message."""
    admin_user.set_password("admin-pw")
    admin_user.save()
    template = factories.welcome_template(
        text_body="\n".join(f"Line {n}: hello {{{{ name }}}}." for n in range(1, 41))
    )
    with smtp_server() as sink:
        config = factories.configuration(
            "qa",
            name="QA mail",
            smtp_port=sink.port,
            recipients_mode="test_list",
            test_recipients=[{"email": "ada@example.com", "name": "Ada"}],
        )
        app, qa = factories.app("Billing"), factories.stage("qa")
        configurations.apply_version(app, qa, config.latest_version(), by=admin_user)
        factories.edit(config, subject_prefix="[QA] ")  # Billing is now behind on QA
        _, token = tokens.issue(app, qa, by=admin_user)
        client = Client(headers={"Authorization": f"Bearer {token}"})
        for subject, answer in (("Invoice 1", "250 OK"), ("Invoice 2", "554 5.7.1 Rejected")):
            sink.handler.data_answer = answer
            response = client.post(
                "/api/v1/messages",
                {"to": [{"email": "grace@example.com"}], "subject": subject, "text": "Hi"},
                content_type="application/json",
            )
            assert response.status_code == 202
            Worker().run_once()
    failed = Message.objects.get(subject="Invoice 2", status="failed")
    factories.configuration("production", name="Live mail")  # asks for the stage's name
    return Seed(
        configuration=config,
        template=template,
        app=app,
        message=failed,
        received=factories.received(),
        person=admin_user,
    )


# Every named page of the portal, with the URL arguments that reach it on the seeded data.
PAGES: dict[str, Callable[[Seed], dict[str, Any]]] = {
    "home": lambda s: {},
    "configuration_list": lambda s: {},
    "configuration_create": lambda s: {},
    "codestream_import": lambda s: {},
    "configuration_detail": lambda s: {"pk": s.configuration.pk},
    "configuration_edit": lambda s: {"pk": s.configuration.pk},
    "configuration_restore": lambda s: {"pk": s.configuration.pk, "number": 1},
    "promote": lambda s: {"pk": s.configuration.pk},
    "template_list": lambda s: {},
    "template_create": lambda s: {},
    "template_edit": lambda s: {"key": s.template.key},
    "preview": lambda s: {},
    "app_list": lambda s: {},
    "app_create": lambda s: {},
    "app_detail": lambda s: {"slug": s.app.slug},
    "app_edit": lambda s: {"slug": s.app.slug},
    "apply": lambda s: {"slug": s.app.slug, "stage_slug": "qa"},
    "token_list": lambda s: {"slug": s.app.slug, "stage_slug": "qa"},
    "outbox": lambda s: {},
    "message_detail": lambda s: {"pk": s.message.pk},
    "sink": lambda s: {},
    "sink_message": lambda s: {"pk": s.received.pk},
    "sink_delete": lambda s: {"pk": s.received.pk},
    "sink_delete_all": lambda s: {},
    "stage_list": lambda s: {},
    "stage_create": lambda s: {},
    "stage_edit": lambda s: {"slug": "qa"},
    "stage_delete": lambda s: {"slug": "production"},
    "audit": lambda s: {},
    "people": lambda s: {},
    "person_add": lambda s: {},
    "person_roles": lambda s: {"pk": s.person.pk},
    "password_change": lambda s: {},
    "two_factor_setup": lambda s: {},
    "api_tokens": lambda s: {},
}

# Pages a button posts to, checked on what they show: URL name -> (page, button).
POSTS: dict[str, tuple[str, str]] = {
    "connection_test": ("configuration_detail", "Test connection"),
    "token_issue": ("token_list", "Issue a token"),
    "message_retry": ("message_detail", "Retry now"),  # a flash message
    "stage_move": ("stage_list", "Move QA up"),  # a flash message
    "try_connection": ("configuration_edit", "Test connection"),  # the steps, on the form
    "try_send": ("configuration_edit", "Send test email"),  # nothing listens: a clear failure
    "rate_limit": ("app_detail", "Set the rate limit on QA"),  # a flash message
    "api_token_issue": ("api_tokens", "Issue a token"),  # no name, no stage: the errors
}

SKIPPED = {
    # POST-only actions that only redirect to a page checked above, with a flash message.
    "token_revoke",
    "message_cancel",
    "api_token_revoke",
    # Downloads, not pages: the .eml files, a received attachment, the audit trail's CSV,
    # a configuration's exports.
    "message_eml",
    "version_export",
    "audit_csv",
    "sink_raw",
    "sink_attachment",
    # A message's own HTML, shown in the sandboxed frames of the pages above.
    "sink_html",
    "message_html",
    "preview_html",
    # The authenticator app's QR code, an image on two_factor_setup.
    "two_factor_qr",
    # The second sign-in step, only for a user with an app: tests/browser/test_signin_flow.py.
    "two_factor_verify",
}


def _submit(
    button: str, *, blank: str = "", wrong: tuple[str, str] | None = None
) -> Callable[[Any], None]:
    def act(page) -> None:
        if blank:
            page.get_by_label(blank, exact=True).fill("")
        if wrong:
            label, value = wrong
            page.get_by_label(label).fill(value)
        page.get_by_role("button", name=button, exact=True).click()

    return act


# Forms sent back with errors: URL name -> how to get them wrong.
WRONG: dict[str, Callable[[Any], None]] = {
    "configuration_create": _submit("Create configuration"),
    "configuration_edit": _submit("Save as new version", blank="Name"),
    "template_create": _submit("Create template"),
    "template_edit": _submit("Save template", blank="Subject"),
    "preview": _submit("Preview", blank="Sample data"),
    "app_create": _submit("Register app"),
    "app_edit": _submit("Save", blank="Name"),
    "stage_create": _submit("Add stage"),
    "stage_edit": _submit("Save", blank="Name"),
    "outbox": lambda page: page.goto(page.url + "?since=tomorrow"),
    "audit": lambda page: page.goto(page.url + "?since=tomorrow"),
    "app_detail": _submit("Set the rate limit on QA", wrong=("API rate limit on QA", "0")),
    "password_change": _submit("Change password"),
    "two_factor_setup": _submit("Turn on two-factor sign-in"),
}


def _named(patterns: Iterable[URLPattern | URLResolver]) -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names |= _named(pattern.url_patterns)
        elif pattern.name:
            names.add(pattern.name)
    return names


def test_every_named_page_is_checked():
    names = _named(urls.urlpatterns)
    checked = set(PAGES) | set(POSTS) | SKIPPED
    assert names - checked == set(), "add these pages to PAGES, POSTS or SKIPPED"
    assert checked - names == set(), "these pages are gone; remove them here"
    assert set(WRONG) <= set(PAGES)
    assert {page for page, _ in POSTS.values()} <= set(PAGES)


def _path(seed: Seed, name: str) -> str:
    return reverse(f"emailconfig:{name}", kwargs=PAGES[name](seed))


def _check(page, axe, what: str, found: dict[str, list[str]]) -> None:
    page.wait_for_load_state()
    if violations := axe_violations(page, axe):
        found[f"{what} ({page.url})"] = violations


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def sized_page(request, browser, live_server) -> Iterator[Any]:
    """A page in its own browser context, as wide as the parameter."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": request.param, "height": 900}
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_every_page_has_no_axe_violations(sized_page, admin_user, viewer, axe):
    seed = _seed(admin_user)
    page, found = sized_page, {}

    page.goto(reverse("login"))
    _check(page, axe, "login", found)
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".errorlist")).not_to_have_count(0)
    _check(page, axe, "login with errors", found)
    sign_in(page, "admin", "admin-pw")  # the context keeps the session for every page below

    for name in PAGES:
        page.goto(_path(seed, name))
        _check(page, axe, name, found)
    page.goto("/no-such-page/")
    _check(page, axe, "page not found", found)

    for name, act in WRONG.items():
        page.goto(_path(seed, name))
        act(page)
        expect(page.locator(".errorlist")).not_to_have_count(0)
        _check(page, axe, f"{name} with errors", found)

    page.goto(reverse("emailconfig:apply", args=[seed.app.slug, "production"]))
    _check(page, axe, "apply on production", found)
    page.get_by_role("button", name="Apply v1").click()
    expect(page.locator(".errorlist")).not_to_have_count(0)
    _check(page, axe, "apply on production without the stage's name", found)

    page.goto(_path(seed, "preview") + f"?configuration={seed.configuration.pk}")
    page.get_by_label("Template").select_option(label="welcome")
    page.get_by_role("button", name="Preview", exact=True).click()
    expect(page.locator("#headers")).to_be_visible()
    _check(page, axe, "preview with a message", found)
    page.get_by_role("button", name="Send test").click()  # nothing listens: a clear failure
    expect(page.get_by_text("Test message not sent")).to_be_visible()
    _check(page, axe, "preview after a test-send", found)

    for name, (start, button) in POSTS.items():
        page.goto(_path(seed, start))
        with page.expect_navigation():
            page.get_by_role("button", name=button).first.click()
        _check(page, axe, f"{name}, from {start}", found)

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "viewer", "pw-viewer")
    page.goto(_path(seed, "configuration_create"))
    _check(page, axe, "not allowed, as a viewer", found)

    report = "\n".join(
        f"{what}:\n" + "\n".join(f"  - {line}" for line in lines) for what, lines in found.items()
    )
    assert not found, f"axe-core found violations at {page.viewport_size['width']}px:\n{report}"


def _signed_in(page, admin_user) -> None:
    admin_user.set_password("admin-pw")
    admin_user.save()
    sign_in(page, "admin", "admin-pw")


def _tab_reaches(page, selector: str, presses: int = 150) -> bool:
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return True
    return False


def test_tab_reaches_every_scrolling_block_at_375px(page, admin_user):
    seed = _seed(admin_user)
    page.set_viewport_size({"width": 375, "height": 900})
    _signed_in(page, admin_user)
    page.goto(_path(seed, "preview") + f"?configuration={seed.configuration.pk}")
    page.get_by_label("Template").select_option(label="welcome")
    page.get_by_role("button", name="Preview", exact=True).click()
    scrolling = page.locator("pre").evaluate_all(
        "blocks => blocks.filter(b => b.scrollHeight > b.clientHeight).map(b => '#' + b.id)"
    )
    assert "#text-part" in scrolling  # forty lines scroll in a narrow window
    for selector in scrolling:  # in document order, so each walk goes on from the last
        assert _tab_reaches(page, selector), f"Tab never reaches {selector}"
        expect(page.locator(selector)).to_have_accessible_name(re.compile(r"\w"))


def test_after_a_failed_submit_focus_is_on_the_error_summary(page, admin_user):
    _signed_in(page, admin_user)
    page.goto(reverse("emailconfig:configuration_create"))
    page.get_by_label("Test list").check()
    page.get_by_label("Test recipient name").first.fill("QA Lead")
    page.get_by_role("button", name="Create configuration").click()

    expect(page.locator(":focus")).to_contain_text("There is a problem")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_accessible_name("Name: This field is required.")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    targets = summary.get_by_role("link").evaluate_all(
        "links => links.map(l => [l.textContent, !!document.getElementById(l.hash.slice(1))])"
    )
    assert len(targets) == 5 and all(found for _, found in targets), targets
    summary.get_by_role("link", name="Stages: This field is required.").click()
    expect(page.get_by_label("Development")).to_be_focused()
    summary.get_by_role("link", name=re.compile("^Test recipient 1, address: Enter the")).click()
    expect(page.get_by_label("Test recipient address").first).to_be_focused()


# Where the ring is drawn: a point on each side, halfway through the outline's width.
RING = """(el) => {
  el.scrollIntoView({block: "center", inline: "center"});
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const d = parseFloat(style.outlineOffset) + parseFloat(style.outlineWidth) / 2;
  const points = [
    [box.left - d, box.top + box.height / 2], [box.right + d, box.top + box.height / 2],
    [box.left + box.width / 2, box.top - d], [box.left + box.width / 2, box.bottom + d],
  ].filter(([x, y]) => x >= 0 && y >= 0 && x < innerWidth && y < innerHeight);
  const opaque = (c) => c !== "transparent" && !/, 0\\)$/.test(c);
  const behind = ([x, y]) => document.elementsFromPoint(x, y)
    .map((e) => getComputedStyle(e).backgroundColor).find(opaque) || "rgb(255, 255, 255)";
  return {
    element: el.outerHTML.slice(0, 80),
    style: style.outlineStyle, width: parseFloat(style.outlineWidth),
    color: style.outlineColor, backgrounds: points.map(behind),
  };
}"""


def _luminance(css_color: str) -> float:
    red, green, blue = (int(n) / 255 for n in re.findall(r"[\d.]+", css_color)[:3])
    linear = [
        c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(one: str, other: str) -> float:
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_focus_rings_keep_3_to_1_against_what_surrounds_them(sized_page, admin_user):
    seed, page = _seed(admin_user), sized_page
    _signed_in(page, admin_user)
    faint = []
    for name, wrong in (
        ("home", None),
        ("message_detail", None),
        ("configuration_edit", WRONG["configuration_edit"]),  # the error summary, the fields
    ):
        page.goto(_path(seed, name))
        if wrong:
            wrong(page)
            expect(page.locator(":focus")).to_contain_text("There is a problem")  # loaded
        for _ in range(80):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement === document.body"):
                break
            ring = page.evaluate(RING, page.evaluate_handle("document.activeElement"))
            if ring["style"] == "none" or ring["width"] < 2:
                faint.append(f"{name}: no focus ring on {ring['element']}")
            if not ring["backgrounds"]:
                faint.append(f"{name}: no ring on screen around {ring['element']}")
                continue
            ratio, background = min((_contrast(ring["color"], b), b) for b in ring["backgrounds"])
            if ratio < 3:
                faint.append(f"{name}: {ratio:.1f}:1 on {background} at {ring['element']}")
    assert not faint, "\n".join(faint)


def test_the_charts_day_labels_are_readable(sized_page, admin_user):
    page = sized_page
    _signed_in(page, admin_user)
    qa = page.locator(".stage-card", has=page.get_by_role("heading", name="QA"))
    expect(qa.get_by_role("img", name=re.compile("per day on QA"))).to_be_visible()
    expect(qa.get_by_role("table", name="QA: sent and failed per day")).to_be_attached()
    labels = qa.locator("svg text, .chart-days span")
    expect(labels).to_have_count(14)
    sizes = labels.evaluate_all(
        "labels => labels.map(l => parseFloat(getComputedStyle(l).fontSize)"
        " * (l.getScreenCTM ? l.getScreenCTM().a : 1))"
    )
    assert min(sizes) >= 12, f"day labels render at {min(sizes):.1f}px"


def test_each_test_list_row_names_the_address_it_removes(page, admin_user):
    config = factories.configuration(
        "qa",
        recipients_mode="test_list",
        test_recipients=[{"email": "ada@example.com"}, {"email": "grace@example.com"}],
    )
    _signed_in(page, admin_user)
    page.goto(reverse("emailconfig:configuration_edit", kwargs={"pk": config.pk}))
    for address in ("ada@example.com", "grace@example.com"):
        expect(page.get_by_role("button", name=f"Remove {address}")).to_be_visible()
        # without JavaScript, the checkbox that stands for the button
        checkbox = page.get_by_role("checkbox", name=f"Remove {address}", include_hidden=True)
        expect(checkbox).to_have_count(1)
    page.get_by_role("button", name="Add a recipient").click()
    page.keyboard.type("lin@example.com")  # the new row's address has the focus
    expect(page.get_by_role("button", name="Remove lin@example.com")).to_be_visible()
