"""Every action the issue lists writes exactly one audit entry: who, from where, on what."""

import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from emailconfig import sign_ins
from emailconfig.delivery import Address
from emailconfig.models import (
    AppliedConfiguration,
    AuditAction,
    AuditEntry,
    EmailConfiguration,
    EmailTemplate,
    Message,
    Stage,
)
from emailconfig.services import outbox, tokens
from tests import factories
from tests.servers import smtp_server
from tests.views.test_configurations import SECRET, _form_data

pytestmark = pytest.mark.django_db

ADDRESS = "203.0.113.9"  # where every request of these tests comes from


@pytest.fixture
def mark():
    """The newest entry before the action; the action's entries come after it."""
    return _newest()


def _newest() -> int:
    return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def the_entry(mark: int, action: AuditAction, *, actor: str = "editor") -> AuditEntry:
    """The one entry written since `mark`, checked to be `action` by `actor` from ADDRESS."""
    [entry] = AuditEntry.objects.filter(pk__gt=mark)
    assert (entry.action, entry.actor, entry.address) == (action, actor, ADDRESS)
    return entry


@pytest.fixture
def sink():
    with smtp_server() as server:
        yield server


# Signing in ---------------------------------------------------------------------


def test_a_sign_in_is_recorded(editor, mark):
    Client().post(
        reverse("login"), {"username": "editor", "password": "pw-editor"}, REMOTE_ADDR=ADDRESS
    )
    assert the_entry(mark, AuditAction.SIGN_IN).target == "editor"


def test_a_failed_sign_in_is_recorded_with_the_name_tried_and_no_password(editor, mark):
    Client().post(
        reverse("login"), {"username": "editor", "password": "guessed"}, REMOTE_ADDR=ADDRESS
    )
    entry = the_entry(mark, AuditAction.SIGN_IN_FAILED, actor="")
    assert entry.target == "editor"
    assert "guessed" not in json.dumps(entry.details)


def test_behind_a_trusted_proxy_the_entry_names_the_client_sign_in_protection_counts(
    editor, mark, settings
):
    settings.STAGEMAIL_TRUSTED_PROXY_COUNT = 1
    Client().post(
        reverse("login"),
        {"username": "editor", "password": "guessed"},
        REMOTE_ADDR="10.0.0.2",  # the proxy
        HTTP_X_FORWARDED_FOR=f"198.51.100.66, {ADDRESS}",  # what the client wrote, then it
    )
    the_entry(mark, AuditAction.SIGN_IN_FAILED, actor="")


# Configurations and applying ----------------------------------------------------------


def test_creating_a_configuration_is_recorded(editor_client, mark):
    editor_client.post(
        reverse("emailconfig:configuration_create"), _form_data(), REMOTE_ADDR=ADDRESS
    )
    entry = the_entry(mark, AuditAction.CONFIGURATION_CREATED)
    assert (entry.target, entry.stage, entry.details) == (
        "Team mail",
        "Development, QA",
        {"version": 1},
    )


def test_an_edit_records_each_changed_field_and_a_secret_only_as_changed(editor_client):
    editor_client.post(reverse("emailconfig:configuration_create"), _form_data())
    config = EmailConfiguration.objects.get()
    mark = _newest()
    editor_client.post(
        reverse("emailconfig:configuration_edit", args=[config.pk]),
        _form_data(connect_timeout="20", smtp_password_0="a-new-secret"),
        REMOTE_ADDR=ADDRESS,
    )
    entry = the_entry(mark, AuditAction.CONFIGURATION_EDITED)
    assert entry.details == {
        "version": 2,
        "changes": [
            {"field": "Password", "old": "(hidden)", "new": "(hidden, changed)"},
            {"field": "Connect timeout (seconds)", "old": "10", "new": "20"},
        ],
    }
    stored = json.dumps(entry.details)
    assert SECRET not in stored and "a-new-secret" not in stored
    assert config.latest_version().secrets["password"].token not in stored


def test_applying_then_re_applying_are_recorded(editor_client):
    config = factories.configuration("qa", name="QA mail")
    factories.app("Billing")
    url = reverse("emailconfig:apply", args=["billing", "qa"])
    mark = _newest()
    editor_client.post(url, {"version": config.latest_version().pk}, REMOTE_ADDR=ADDRESS)
    entry = the_entry(mark, AuditAction.APPLIED)
    assert (entry.target, entry.stage) == ("Billing", "QA")
    assert entry.details == {"version": "QA mail v1", "before": None}

    v2 = factories.edit(config, smtp_port=2525)
    mark = _newest()
    editor_client.post(url, {"version": v2.pk}, REMOTE_ADDR=ADDRESS)
    entry = the_entry(mark, AuditAction.REAPPLIED)
    assert entry.details == {"version": "QA mail v2", "before": "QA mail v1"}


# Stages and templates -------------------------------------------------------------


def test_adding_a_stage_is_recorded(admin_client, mark):
    admin_client.post(reverse("emailconfig:stage_create"), {"name": "Staging"}, REMOTE_ADDR=ADDRESS)
    assert the_entry(mark, AuditAction.STAGE_CREATED, actor="admin").target == "Staging"


def test_editing_a_stage_records_the_changes(admin_client, mark):
    admin_client.post(
        reverse("emailconfig:stage_edit", args=["qa"]),
        {"name": "Quality", "slug": "qa", "is_production": "on"},
        REMOTE_ADDR=ADDRESS,
    )
    entry = the_entry(mark, AuditAction.STAGE_EDITED, actor="admin")
    assert entry.details == {
        "changes": [
            {"field": "Name", "old": "QA", "new": "Quality"},
            {"field": "Is production", "old": "False", "new": "True"},
        ]
    }


def test_moving_a_stage_is_recorded(admin_client, mark):
    admin_client.post(
        reverse("emailconfig:stage_move", args=["production"]),
        {"direction": "up"},
        REMOTE_ADDR=ADDRESS,
    )
    entry = the_entry(mark, AuditAction.STAGE_MOVED, actor="admin")
    assert (entry.target, entry.details) == ("Production", {"to": "up"})


def test_deleting_a_stage_is_recorded(admin_client, mark):
    admin_client.post(reverse("emailconfig:stage_delete", args=["qa"]), REMOTE_ADDR=ADDRESS)
    assert the_entry(mark, AuditAction.STAGE_DELETED, actor="admin").target == "QA"


def test_a_refused_stage_deletion_writes_nothing(admin_client):
    factories.configuration("qa")
    mark = _newest()
    admin_client.post(reverse("emailconfig:stage_delete", args=["qa"]), REMOTE_ADDR=ADDRESS)
    assert not AuditEntry.objects.filter(pk__gt=mark).exists()


def test_creating_and_editing_a_template_are_recorded(editor_client, mark):
    data = {
        "key": "welcome",
        "name": "Welcome",
        "subject": "Welcome, {{ name }}",
        "text_body": "Hello {{ name }}",
        "html_body": "<p>Hello {{ name }}</p>",
        "sample_data": '{"name": "Ada"}',
    }
    editor_client.post(reverse("emailconfig:template_create"), data, REMOTE_ADDR=ADDRESS)
    assert the_entry(mark, AuditAction.TEMPLATE_CREATED).target == "welcome"

    mark = _newest()
    editor_client.post(
        reverse("emailconfig:template_edit", args=["welcome"]),
        {**data, "subject": "Hi, {{ name }}"},
        REMOTE_ADDR=ADDRESS,
    )
    entry = the_entry(mark, AuditAction.TEMPLATE_EDITED)
    assert entry.details == {"changes": [{"field": "Subject"}]}
    assert EmailTemplate.objects.get().subject == "Hi, {{ name }}"


# Tokens ------------------------------------------------------------------------


def test_issuing_a_token_is_recorded_by_its_prefix(editor_client, mark):
    factories.app("Billing")
    editor_client.post(
        reverse("emailconfig:token_issue", args=["billing", "qa"]), REMOTE_ADDR=ADDRESS
    )
    entry = the_entry(mark, AuditAction.TOKEN_ISSUED)
    assert (entry.target, entry.stage) == ("Billing", "QA")
    assert entry.details["prefix"].startswith("smk_")


def test_rotating_tokens_is_one_entry_naming_the_expiring_ones(editor_client):
    app = factories.app("Billing")
    old, _ = tokens.issue(app, factories.stage("qa"), by=None)
    mark = _newest()
    editor_client.post(
        reverse("emailconfig:token_issue", args=["billing", "qa"]),
        {"rotate": "1", "grace": "3600"},
        REMOTE_ADDR=ADDRESS,
    )
    entry = the_entry(mark, AuditAction.TOKEN_ROTATED)
    assert entry.details["expiring"] == [old.prefix]
    assert entry.details["grace_seconds"] == 3600


def test_revoking_a_token_is_recorded(editor_client):
    credential, _ = tokens.issue(factories.app("Billing"), factories.stage("qa"), by=None)
    mark = _newest()
    url = reverse("emailconfig:token_revoke", args=["billing", "qa", credential.pk])
    editor_client.post(url, REMOTE_ADDR=ADDRESS)
    assert the_entry(mark, AuditAction.TOKEN_REVOKED).details == {"prefix": credential.prefix}
    editor_client.post(url, REMOTE_ADDR=ADDRESS)  # revoked already: nothing happens again
    assert AuditEntry.objects.filter(pk__gt=mark).count() == 1


# Roles ---------------------------------------------------------------------------


def _user_change(admin_client, user, **changes):
    data = {
        "username": user.username,
        "email": user.email,
        "is_active": "on",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        **changes,
    }
    response = admin_client.post(
        reverse("admin:auth_user_change", args=[user.pk]), data, REMOTE_ADDR=ADDRESS
    )
    assert response.status_code == 302, response.context["adminform"].form.errors


def _roles(admin_client, user, *, administrator=False, **stage_roles):
    """Post the People page's roles form: `stage_roles` by stage slug, the others kept."""
    held = dict(user.stage_grants.values_list("stage__slug", "role"))
    data = {
        f"stage_{stage.pk}": stage_roles.get(stage.slug, held.get(stage.slug, ""))
        for stage in Stage.objects.all()
    }
    data["active"] = "on"
    if administrator:
        data["administrator"] = "on"
    response = admin_client.post(
        reverse("emailconfig:person_roles", args=[user.pk]), data, REMOTE_ADDR=ADDRESS
    )
    assert response.status_code == 302


def test_granting_changing_and_removing_a_stage_role_are_recorded(admin_client, viewer):
    mark = _newest()
    _roles(admin_client, viewer, qa="editor")
    entry = the_entry(mark, AuditAction.ROLE_GRANTED, actor="admin")
    assert (entry.target, entry.stage, entry.details) == (
        "viewer",
        "QA",
        {"role": "Editor", "was": "Viewer"},
    )
    assert entry.address == ADDRESS

    mark = _newest()
    _roles(admin_client, viewer, qa="")
    entry = the_entry(mark, AuditAction.ROLE_REMOVED, actor="admin")
    assert (entry.target, entry.stage, entry.details) == ("viewer", "QA", {"role": "Editor"})

    mark = _newest()
    _roles(admin_client, viewer, qa="viewer")
    entry = the_entry(mark, AuditAction.ROLE_GRANTED, actor="admin")
    assert (entry.stage, entry.details) == ("QA", {"role": "Viewer"})


def test_making_an_administrator_is_recorded_as_a_role(admin_client, viewer):
    mark = _newest()
    _roles(admin_client, viewer, administrator=True)
    entry = the_entry(mark, AuditAction.ROLE_GRANTED, actor="admin")
    assert (entry.target, entry.details) == ("viewer", {"role": "administrator"})


def test_making_an_administrator_in_djangos_admin_is_recorded_too(admin_client, viewer):
    mark = _newest()
    _user_change(admin_client, viewer, is_superuser="on")
    entry = the_entry(mark, AuditAction.ROLE_GRANTED, actor="admin")
    assert (entry.target, entry.details) == ("viewer", {"role": "administrator"})
    viewer.refresh_from_db()
    assert viewer.is_staff  # so Django's admin lets them in


def test_saving_a_user_without_changing_roles_writes_nothing(admin_client, viewer):
    mark = _newest()
    _user_change(admin_client, viewer, first_name="Vera")
    assert not AuditEntry.objects.filter(pk__gt=mark).exists()


# Test-sends and connection tests -----------------------------------------------------


def test_a_test_send_is_recorded(editor_client, sink):
    config = factories.configuration(
        "qa",
        name="QA mail",
        smtp_port=sink.port,
        recipients_mode="test_list",
        test_recipients=[{"email": "qa-lead@example.com", "name": ""}],
    )
    template = factories.welcome_template()
    mark = _newest()
    editor_client.post(
        reverse("emailconfig:preview"),
        {"configuration": config.pk, "template": template.pk, "sample_data": "", "send": "1"},
        REMOTE_ADDR=ADDRESS,
    )
    entry = the_entry(mark, AuditAction.TEST_SEND)
    assert entry.target == "QA mail v1"
    assert entry.details["template"] == "welcome"
    assert entry.details["recipients"] == ["qa-lead@example.com"]


def test_a_connection_test_is_recorded_with_its_outcome(editor_client, sink):
    config = factories.configuration("qa", name="QA mail", smtp_port=sink.port)
    mark = _newest()
    editor_client.post(
        reverse("emailconfig:connection_test", args=[config.pk]), REMOTE_ADDR=ADDRESS
    )
    entry = the_entry(mark, AuditAction.CONNECTION_TEST)
    assert (entry.target, entry.details["ok"], entry.details["host"]) == (
        "QA mail v1",
        True,
        "127.0.0.1",
    )


# The outbox ------------------------------------------------------------------------


@pytest.fixture
def message(sink):
    config = factories.configuration("qa", name="QA mail", smtp_port=sink.port)
    submission = outbox.Submission(to=(Address("ada@example.com", ""),), subject="Hi", text="x")
    return outbox.accept(factories.api_credential(config), submission)[0]


def test_cancelling_and_retrying_a_message_are_recorded(editor_client, message):
    mark = _newest()
    editor_client.post(
        reverse("emailconfig:message_cancel", args=[message.pk]), REMOTE_ADDR=ADDRESS
    )
    entry = the_entry(mark, AuditAction.MESSAGE_CANCELLED)
    assert (entry.target, entry.stage) == (f"Message {message.pk}", "QA")
    assert entry.details["message_id"] == message.message_id

    mark = _newest()
    editor_client.post(reverse("emailconfig:message_retry", args=[message.pk]), REMOTE_ADDR=ADDRESS)
    the_entry(mark, AuditAction.MESSAGE_RETRIED)


def test_a_refused_retry_writes_nothing(editor_client, message):
    Message.objects.filter(pk=message.pk).update(status="sent")
    mark = _newest()
    editor_client.post(reverse("emailconfig:message_retry", args=[message.pk]), REMOTE_ADDR=ADDRESS)
    assert not AuditEntry.objects.filter(pk__gt=mark).exists()


# Key rotation ---------------------------------------------------------------------


def test_key_rotation_is_recorded_as_the_command_with_no_address():
    # A password is stored only with authentication on.
    factories.configuration(smtp_requires_auth=True, smtp_username="u", smtp_password="p1")
    mark = _newest()
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    [entry] = AuditEntry.objects.filter(pk__gt=mark)
    assert (entry.action, entry.actor, entry.address) == (
        AuditAction.KEYS_ROTATED,
        "manage.py rotate_encryption_keys",
        None,
    )
    assert entry.details["re_encrypted"]["emailconfig.EmailConfiguration.secrets"] == 1


# The same actions through the Django admin -------------------------------------------


def test_applying_in_the_admin_is_recorded_then_re_applied(admin_client):
    config = factories.configuration("qa", name="QA mail")
    app = factories.app("Billing")
    qa = factories.stage("qa")
    mark = _newest()
    admin_client.post(
        reverse("admin:emailconfig_appliedconfiguration_add"),
        {"app": app.pk, "stage": qa.pk, "version": config.latest_version().pk},
        REMOTE_ADDR=ADDRESS,
    )
    entry = the_entry(mark, AuditAction.APPLIED, actor="admin")
    assert (entry.target, entry.stage) == ("Billing", "QA")
    applied = AppliedConfiguration.objects.get()
    assert applied.applied_by.username == "admin"

    v2 = factories.edit(config, smtp_port=2525)
    mark = _newest()
    admin_client.post(
        reverse("admin:emailconfig_appliedconfiguration_change", args=[applied.pk]),
        {"version": v2.pk},
        REMOTE_ADDR=ADDRESS,
    )
    assert the_entry(mark, AuditAction.REAPPLIED, actor="admin").details["version"] == "QA mail v2"
    assert AppliedConfiguration.objects.get().version == v2


def test_editing_a_template_in_the_admin_is_recorded(admin_client):
    template = factories.welcome_template()
    mark = _newest()
    admin_client.post(
        reverse("admin:emailconfig_emailtemplate_change", args=[template.pk]),
        {
            "key": "welcome",
            "name": "Welcome",
            "subject": "Hi, {{ name }}",
            "text_body": template.text_body,
            "html_body": template.html_body,
            "sample_data": '{"name": "Ada"}',
        },
        REMOTE_ADDR=ADDRESS,
    )
    entry = the_entry(mark, AuditAction.TEMPLATE_EDITED, actor="admin")
    assert entry.details == {"changes": [{"field": "Subject"}]}


def test_a_lockout_is_recorded_by_the_handler_django_axes_signals(rf, mark):
    """django-axes is not installed on this branch; its user_locked_out signal calls this."""
    request = rf.post(reverse("login"), REMOTE_ADDR=ADDRESS)
    sign_ins.locked_out("axes", request=request, username="editor", ip_address=ADDRESS)
    assert the_entry(mark, AuditAction.SIGN_IN_LOCKED_OUT, actor="").target == "editor"


# The signed-in user's own account ------------------------------------------------------


def test_changing_ones_password_is_recorded(editor, editor_client, mark):
    new = "a-much-longer-passphrase-42"
    editor_client.post(
        reverse("emailconfig:password_change"),
        {"old_password": "pw-editor", "new_password1": new, "new_password2": new},
        REMOTE_ADDR=ADDRESS,
    )
    assert the_entry(mark, AuditAction.PASSWORD_CHANGED).target == "editor"


def test_setting_up_two_factor_sign_in_is_recorded(editor, editor_client, mark):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    setup = reverse("emailconfig:two_factor_setup")
    editor_client.get(setup)
    device = TOTPDevice.objects.get(user=editor)
    editor_client.post(setup, {"code": factories.authenticator_code(device)}, REMOTE_ADDR=ADDRESS)
    assert the_entry(mark, AuditAction.SECOND_FACTOR_SET_UP).target == "editor"
