from django.urls import path

from emailconfig.views import apps, configurations, home, preview, stages, templates

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
        "configurations/<int:pk>/test-connection/",
        preview.connection_test,
        name="connection_test",
    ),
    path("templates/", templates.template_list, name="template_list"),
    path("templates/new/", templates.template_create, name="template_create"),
    path("templates/<slug:key>/edit/", templates.template_edit, name="template_edit"),
    path("preview/", preview.preview, name="preview"),
    path("apps/", apps.app_list, name="app_list"),
    path("apps/new/", apps.app_create, name="app_create"),
    path("apps/<slug:slug>/", apps.app_detail, name="app_detail"),
    path("apps/<slug:slug>/edit/", apps.app_edit, name="app_edit"),
    path("apps/<slug:slug>/stages/<slug:stage_slug>/apply/", apps.apply, name="apply"),
    path("stages/", stages.stage_list, name="stage_list"),
    path("stages/new/", stages.stage_create, name="stage_create"),
    path("stages/<slug:slug>/edit/", stages.stage_edit, name="stage_edit"),
    path("stages/<slug:slug>/move/", stages.stage_move, name="stage_move"),
    path("stages/<slug:slug>/delete/", stages.stage_delete, name="stage_delete"),
]
