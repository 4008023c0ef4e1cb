from django.urls import path

from emailconfig.views import (
    account,
    apps,
    audit,
    configurations,
    home,
    outbox,
    people,
    preview,
    sink,
    stages,
    templates,
    tokens,
)

app_name = "emailconfig"

urlpatterns = [
    path("", home.home, name="home"),
    path("configurations/", configurations.configuration_list, name="configuration_list"),
    path("configurations/new/", configurations.configuration_create, name="configuration_create"),
    path(
        "configurations/<int:pk>/", configurations.configuration_detail, name="configuration_detail"
    ),
    path(
        "configurations/<int:pk>/edit/",
        configurations.configuration_edit,
        name="configuration_edit",
    ),
    path(
        "configurations/<int:pk>/versions/<int:number>/make-current/",
        configurations.configuration_restore,
        name="configuration_restore",
    ),
    path(
        "configurations/new/test-connection/",
        configurations.try_connection,
        name="try_connection",
    ),
    path(
        "configurations/<int:pk>/edit/test-connection/",
        configurations.try_connection,
        name="try_connection",
    ),
    path("configurations/new/test-send/", configurations.try_send, name="try_send"),
    path("configurations/<int:pk>/edit/test-send/", configurations.try_send, name="try_send"),
    path(
        "configurations/<int:pk>/test-connection/",
        preview.connection_test,
        name="connection_test",
    ),
    path("templates/", templates.template_list, name="template_list"),
    path("templates/new/", templates.template_create, name="template_create"),
    path("templates/<slug:key>/edit/", templates.template_edit, name="template_edit"),
    path("preview/", preview.preview, name="preview"),
    path("preview/html/<str:key>/", preview.preview_html, name="preview_html"),
    path("apps/", apps.app_list, name="app_list"),
    path("apps/new/", apps.app_create, name="app_create"),
    path("apps/<slug:slug>/", apps.app_detail, name="app_detail"),
    path("apps/<slug:slug>/edit/", apps.app_edit, name="app_edit"),
    path("apps/<slug:slug>/stages/<slug:stage_slug>/apply/", apps.apply, name="apply"),
    path(
        "apps/<slug:slug>/stages/<slug:stage_slug>/rate-limit/",
        apps.rate_limit,
        name="rate_limit",
    ),
    path("apps/<slug:slug>/stages/<slug:stage_slug>/tokens/", tokens.token_list, name="token_list"),
    path(
        "apps/<slug:slug>/stages/<slug:stage_slug>/tokens/new/",
        tokens.token_issue,
        name="token_issue",
    ),
    path(
        "apps/<slug:slug>/stages/<slug:stage_slug>/tokens/<int:pk>/revoke/",
        tokens.token_revoke,
        name="token_revoke",
    ),
    path("outbox/", outbox.outbox_list, name="outbox"),
    path("outbox/<uuid:pk>/", outbox.message_detail, name="message_detail"),
    path("outbox/<uuid:pk>/html/", outbox.message_html, name="message_html"),
    path("outbox/<uuid:pk>/message.eml", outbox.message_eml, name="message_eml"),
    path(
        "outbox/<uuid:pk>/retry/", outbox.message_action, {"action": "retry"}, name="message_retry"
    ),
    path(
        "outbox/<uuid:pk>/cancel/",
        outbox.message_action,
        {"action": "cancel"},
        name="message_cancel",
    ),
    path("sink/", sink.sink, name="sink"),
    path("sink/delete/", sink.sink_delete_all, name="sink_delete_all"),
    path("sink/<int:pk>/", sink.sink_message, name="sink_message"),
    path("sink/<int:pk>/html/", sink.sink_html, name="sink_html"),
    path("sink/<int:pk>/raw/", sink.sink_raw, name="sink_raw"),
    path(
        "sink/<int:pk>/attachments/<int:number>/",
        sink.sink_attachment,
        name="sink_attachment",
    ),
    path("sink/<int:pk>/delete/", sink.sink_delete, name="sink_delete"),
    path("audit/", audit.audit_list, name="audit"),
    path("people/", people.people, name="people"),
    path("people/new/", people.person_add, name="person_add"),
    path("people/<int:pk>/roles/", people.person_roles, name="person_roles"),
    path("audit/export.csv", audit.audit_csv, name="audit_csv"),
    path("account/password/", account.PasswordChange.as_view(), name="password_change"),
    path("account/two-factor/", account.two_factor_setup, name="two_factor_setup"),
    path("account/two-factor/qr.svg", account.two_factor_qr, name="two_factor_qr"),
    path("account/two-factor/verify/", account.two_factor_verify, name="two_factor_verify"),
    path("stages/", stages.stage_list, name="stage_list"),
    path("stages/new/", stages.stage_create, name="stage_create"),
    path("stages/<slug:slug>/edit/", stages.stage_edit, name="stage_edit"),
    path("stages/<slug:slug>/move/", stages.stage_move, name="stage_move"),
    path("stages/<slug:slug>/delete/", stages.stage_delete, name="stage_delete"),
]
