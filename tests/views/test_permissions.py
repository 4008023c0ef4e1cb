"""Role by URL by stage: every portal URL, both methods, every role, on a stage granted and one not.

Each URL names what it needs (a role on the stage of its object, or on the portal); each
persona says what it holds. Expectations come from those two tables only, not from the
code under test. Every request runs in a savepoint rolled back after it, so one persona's
POST does not change what the next one sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import get_resolver, reverse

from emailconfig.delivery import Address
from emailconfig.models import EmailTemplate, Message, StageRole
from emailconfig.services import admin_tokens, outbox, tokens
from emailconfig.services import configurations as services
from emailconfig.views.preview import SHOWN_HTML
from tests import factories

pytestmark = pytest.mark.django_db

GRANTED, NOT_GRANTED = "qa", "production"  # for the personas holding one stage
SUCCESS = range(200, 400)
LOGIN = "/accounts/login/"


@dataclass(frozen=True)
class Persona:
    name: str
    roles: dict[str, str] = field(default_factory=dict)  # stage slug -> role
    administrator: bool = False

    def sees(self, stage: str) -> bool:
        return self.administrator or stage in self.roles

    def edits(self, stage: str) -> bool:
        if self.administrator:
            return True
        production = stage == "production"
        role = self.roles.get(stage)
        return role == "production_editor" or (role == "editor" and not production)

    @property
    def member(self) -> bool:
        return self.administrator or bool(self.roles)

    @property
    def edits_somewhere(self) -> bool:
        return any(self.edits(s) for s in ("development", "qa", "production"))

    @property
    def edits_everywhere(self) -> bool:
        return all(self.edits(s) for s in ("development", "qa", "production"))


PERSONAS = [
    Persona("qa viewer", {"qa": "viewer"}),
    Persona("qa editor", {"qa": "editor"}),
    Persona("editor holding production", {"production": "editor"}),  # reads only there
    Persona("production editor", {"production": "production_editor"}),
    Persona(
        "editor everywhere",
        {"development": "editor", "qa": "editor", "production": "production_editor"},
    ),
    Persona("administrator", administrator=True),
    Persona("no role"),
]


# What each URL needs. "see"/"edit" are of the stage its object belongs to; the others are
# of the portal. A route's stage is the one the matrix puts its object on.
NEEDS: dict[str, str] = {
    "home": "member",
    "configuration_list": "member",
    "configuration_create": "edit somewhere",
    "codestream_import": "edit somewhere",
    "configuration_detail": "see",
    "configuration_edit": "edit",
    "configuration_restore": "edit",
    "promote": "see, and edit the next stage",
    "version_export": "see",
    "try_connection": "edit",
    "try_send": "edit",
    "connection_test": "edit",
    "template_list": "member",
    "template_create": "edit everywhere",
    "template_edit": "edit everywhere",
    "preview": "member",
    "preview_html": "member",
    "app_list": "member",
    "app_create": "edit somewhere",
    "app_detail": "member",
    "app_edit": "edit somewhere",
    "apply": "edit",
    "rate_limit": "edit",
    "token_list": "see",
    "token_issue": "edit",
    "token_revoke": "edit",
    "outbox": "member",
    "message_detail": "see",
    "message_html": "see",
    "message_eml": "see",
    "message_retry": "edit",
    "message_cancel": "edit",
    "sink": "member",
    "sink_delete_all": "edit somewhere",
    "sink_message": "member",
    "sink_html": "member",
    "sink_raw": "member",
    "sink_attachment": "member",
    "sink_delete": "edit somewhere",
    "audit": "administrator",
    "audit_csv": "administrator",
    "people": "administrator",
    "person_add": "administrator",
    "person_roles": "administrator",
    "password_change": "signed in",
    "api_tokens": "signed in",
    "api_token_issue": "signed in",
    "api_token_revoke": "own, or administrator",
    "two_factor_setup": "signed in",
    "two_factor_qr": "signed in",
    "two_factor_verify": "signed in",
    "stage_list": "member",
    "stage_create": "administrator",
    "stage_edit": "administrator of a stage seen",
    "stage_move": "administrator of a stage seen",
    "stage_delete": "administrator of a stage seen",
}
POST_ONLY = {
    "try_connection",
    "try_send",
    "connection_test",
    "rate_limit",
    "token_issue",
    "token_revoke",
    "message_retry",
    "message_cancel",
    "stage_move",
    "api_token_issue",
    "api_token_revoke",
}
# Routes with a configuration as their object: also asked about a draft, covering no stage.
CONFIGURATION_ROUTES = {
    "configuration_detail",
    "promote",
    "version_export",
    "configuration_restore",
    "configuration_edit",
    "try_connection",
    "try_send",
    "connection_test",
}


def allowed(persona: Persona, need: str, stage: str) -> bool:
    return {
        "signed in": True,
        "member": persona.member,
        "see": persona.sees(stage),
        "edit": persona.edits(stage),
        "edit somewhere": persona.edits_somewhere,
        "edit everywhere": persona.edits_everywhere,
        "administrator": persona.administrator,
        "own, or administrator": persona.administrator,  # the matrix's token is the admin's
        "administrator of a stage seen": persona.administrator,
        # QA's configuration goes to Production; Production's has no stage after it (404).
        "see, and edit the next stage": stage == "qa"
        and persona.sees("qa")
        and persona.edits("production"),
    }[need]


def hidden(persona: Persona, need: str, stage: str) -> bool:
    """A member asking for an object of a stage they do not see gets 404."""
    stage_scoped = need in (
        "see",
        "edit",
        "administrator of a stage seen",
        "see, and edit the next stage",
    )
    return stage_scoped and persona.member and not persona.sees(stage)


@pytest.fixture
def world(django_user_model, admin_user):
    """On each of QA and Production: a configuration, the app applied, a token, a message."""
    template = EmailTemplate.objects.create(key="hello", name="Hello", subject="Hi", text_body="x")
    app = factories.app("Billing")
    received = factories.received()
    objects: dict[str, dict[str, Any]] = {}
    for slug in (GRANTED, NOT_GRANTED):
        config = factories.configuration(slug, name=f"{slug} mail", smtp_port=9)
        stage = factories.stage(slug)
        services.apply_version(app, stage, config.latest_version(), by=None)
        credential, secret = tokens.issue(app, stage, by=None)
        message = outbox.accept(
            tokens.authenticate(secret),
            outbox.Submission(to=(Address("ada@example.com"),), subject="Hi", text="Hello"),
        )[0]
        Message.objects.filter(pk=message.pk).update(status="failed")
        objects[slug] = {"config": config, "token": credential, "message": message}
    draft = factories.configuration(name="Draft mail")
    draft.coverages.all().delete()  # covers no stage yet
    objects["draft"] = {"config": draft}
    users = {}
    for persona in PERSONAS:
        user = django_user_model.objects.create_user(persona.name.replace(" ", "-"), "x@x.org")
        user.is_superuser = user.is_staff = persona.administrator
        user.save()
        for slug, role in persona.roles.items():
            factories.grant(user, StageRole.VIEWER, slug)
            user.stage_grants.filter(stage__slug=slug).update(role=role)
        users[persona.name] = user
    admin_token, _ = admin_tokens.issue(
        admin_user, name="script", scope="read", stages=[factories.stage(GRANTED)], by=None
    )
    return {
        "objects": objects,
        "admin_token": admin_token,
        "template": template,
        "app": app,
        "received": received,
        "users": users,
        "admin": admin_user,
    }


def url_for(name: str, stage: str, world: dict) -> str:
    """The URL of route `name` with its object on `stage` (where it has one)."""
    on = {**world["objects"][GRANTED], **world["objects"][stage]}  # a draft has a config only
    kwargs: dict[str, Any] = {
        "configuration_detail": {"pk": on["config"].pk},
        "configuration_edit": {"pk": on["config"].pk},
        "configuration_restore": {"pk": on["config"].pk, "number": 1},
        "promote": {"pk": on["config"].pk},
        "version_export": {"pk": on["config"].pk, "number": 1, "fmt": "django.py"},
        "try_connection": {"pk": on["config"].pk},
        "try_send": {"pk": on["config"].pk},
        "connection_test": {"pk": on["config"].pk},
        "template_edit": {"key": "hello"},
        "preview_html": {"key": "kept"},
        "app_detail": {"slug": "billing"},
        "app_edit": {"slug": "billing"},
        "apply": {"slug": "billing", "stage_slug": stage},
        "rate_limit": {"slug": "billing", "stage_slug": stage},
        "token_list": {"slug": "billing", "stage_slug": stage},
        "token_issue": {"slug": "billing", "stage_slug": stage},
        "token_revoke": {"slug": "billing", "stage_slug": stage, "pk": on["token"].pk},
        "message_detail": {"pk": on["message"].pk},
        "message_html": {"pk": on["message"].pk},
        "message_eml": {"pk": on["message"].pk},
        "message_retry": {"pk": on["message"].pk},
        "message_cancel": {"pk": on["message"].pk},
        "sink_message": {"pk": world["received"].pk},
        "sink_html": {"pk": world["received"].pk},
        "sink_raw": {"pk": world["received"].pk},
        "sink_attachment": {"pk": world["received"].pk, "number": 1},
        "sink_delete": {"pk": world["received"].pk},
        "person_roles": {"pk": world["admin"].pk},
        "api_token_revoke": {"pk": world["admin_token"].pk},
        "stage_edit": {"slug": stage},
        "stage_move": {"slug": stage},
        "stage_delete": {"slug": stage},
    }.get(name, {})
    return reverse(f"emailconfig:{name}", kwargs=kwargs)


POST_DATA: dict[str, dict[str, str]] = {
    "stage_move": {"direction": "up"},
    "rate_limit": {"rate_limit_per_minute": "5"},
}


def test_every_route_is_in_the_matrix():
    routes = {pattern.name for pattern in get_resolver("emailconfig.urls").url_patterns}
    assert routes == set(NEEDS)


def _ask(client: Client, method: str, url: str, data: dict[str, str]) -> int:
    with transaction.atomic():
        response = getattr(client, method)(url, data) if method == "post" else client.get(url)
        transaction.set_rollback(True)
    if response.status_code == 302 and response["Location"].startswith(LOGIN):
        return 401  # sent to sign in
    return response.status_code


def expectation(persona: Persona, name: str, stage: str) -> tuple[bool, bool]:
    """(allowed, hidden) for route `name` with its object on `stage`."""
    need = NEEDS[name]
    if stage == "draft":  # a configuration covering no stage, so none after it either
        return {"see": persona.member, "edit": persona.edits_somewhere}.get(need, False), False
    return allowed(persona, need, stage), hidden(persona, need, stage)


def test_the_role_url_stage_matrix(world):
    unexpected_success, unexpected_refusal, not_hidden = [], [], []
    asked = 0
    for persona in PERSONAS:
        client = Client()
        client.force_login(world["users"][persona.name])
        session = client.session
        session[SHOWN_HTML] = {"kept": "<p>Hello</p>"}  # a preview's HTML part
        session.save()
        for name in NEEDS:
            stages = [GRANTED, NOT_GRANTED] + (["draft"] if name in CONFIGURATION_ROUTES else [])
            for stage in stages:
                url = url_for(name, stage, world)
                ok, hide = expectation(persona, name, stage)
                for method in ("get", "post"):
                    status = _ask(client, method, url, POST_DATA.get(name, {}))
                    asked += 1
                    case = f"{persona.name}: {method.upper()} {url} ({NEEDS[name]}) {status}"
                    if method == "get" and name in POST_ONLY:
                        if status != 405:
                            unexpected_success.append(case)
                    elif status in SUCCESS and not ok:
                        unexpected_success.append(case)
                    elif ok and status not in SUCCESS:
                        unexpected_refusal.append(case)
                    elif hide and status != 404:
                        not_hidden.append(case)
    assert asked > 1000
    assert unexpected_success == []
    assert unexpected_refusal == []
    assert not_hidden == []


def test_an_anonymous_visitor_is_sent_to_sign_in(world):
    client = Client()
    for name in NEEDS:
        url = url_for(name, GRANTED, world)
        for method in ("get", "post"):
            assert _ask(client, method, url, {}) in (401, 405), (method, url)


def test_only_administrators_enter_djangos_admin(world):
    for persona in PERSONAS:
        client = Client()
        client.force_login(world["users"][persona.name])
        response = client.get("/admin/")
        if persona.administrator:
            assert response.status_code == 200
        else:
            assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
