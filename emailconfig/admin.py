"""Django admin for superusers and raw data. Secrets are write-only here as everywhere."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from emailconfig.audit import Actor
from emailconfig.forms.configurations import ConfigurationForm
from emailconfig.forms.fields import AddressField
from emailconfig.forms.templates import EmailTemplateForm
from emailconfig.models import (
    App,
    AppliedConfiguration,
    ConfigurationVersion,
    DeliverySettings,
    EmailConfiguration,
    EmailTemplate,
    Stage,
    TestRecipient,
    TestSend,
)
from emailconfig.services import configurations as services
from emailconfig.services import roles
from emailconfig.services import stages as stage_services
from emailconfig.services import templates as template_services


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "order", "is_production"]
    list_editable = ["order"]
    prepopulated_fields = {"slug": ["name"]}

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        stage_services.save(form, by=Actor.of(request))


class AdminTestRecipientFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        try:
            services.check_test_list(
                self.instance.recipients_mode, [r["email"] for r in self.recipients()]
            )
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None

    def recipients(self) -> list[dict[str, str]]:
        return [
            {"email": f.cleaned_data["email"], "name": f.cleaned_data.get("name", "")}
            for f in self.forms
            if f.cleaned_data.get("email") and not f.cleaned_data.get("DELETE")
        ]


class AdminTestRecipientForm(forms.ModelForm):
    class Meta:
        model = TestRecipient
        fields = ["email", "name"]
        field_classes = {"email": AddressField}


class TestRecipientInline(admin.TabularInline):
    model = TestRecipient
    form = AdminTestRecipientForm
    formset = AdminTestRecipientFormSet
    extra = 1


class AdminConfigurationForm(ConfigurationForm):
    with_test_list = False
    confirms_production = False  # the superuser's back door: no page to show the warning on


@admin.register(EmailConfiguration)
class EmailConfigurationAdmin(admin.ModelAdmin):
    form = AdminConfigurationForm
    inlines = [TestRecipientInline]
    list_display = ["name", "engine", "recipients_mode", "updated_at"]
    search_fields = ["name"]

    @method_decorator(sensitive_post_parameters())
    def changeform_view(self, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().changeform_view(*args, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        form.apply_engine_options()  # the service saves everything in save_related

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        recipients = [r for formset in formsets for r in formset.recipients()]
        services.save_configuration(
            form.instance,
            stages=form.cleaned_data["stages"],
            test_recipients=recipients,
            author=Actor.of(request),
        )
        for formset in formsets:  # read by the admin's change message
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


@admin.register(ConfigurationVersion)
class ConfigurationVersionAdmin(admin.ModelAdmin):
    list_display = ["configuration", "number", "created_by", "created_at"]
    list_filter = ["configuration"]
    readonly_fields = [
        "configuration",
        "number",
        "name",
        "stage_names",
        "test_recipients",
        "created_by",
        "created_at",
        *(n for n in DeliverySettings.setting_names() if n != "secrets"),
        "stored_secrets",
    ]
    exclude = ["secrets"]

    @admin.display(description="engine secrets")
    def stored_secrets(self, obj: ConfigurationVersion) -> str:
        """Which secrets are stored, never what they are."""
        return ", ".join(sorted(obj.secrets)) or "None"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # versions are history; apps point at them


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug"]


@admin.register(AppliedConfiguration)
class AppliedConfigurationAdmin(admin.ModelAdmin):
    list_display = ["app", "stage", "version", "applied_by", "applied_at"]
    list_filter = ["stage", "app"]
    list_select_related = ["app", "stage", "version", "applied_by"]
    fields = ["app", "stage", "version"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["app", "stage"] if obj else []  # another app or stage is another row

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        applied = services.apply_version(obj.app, obj.stage, obj.version, by=Actor.of(request))
        obj.pk = applied.pk


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "updated_at", "updated_by"]
    search_fields = ["key", "name", "subject"]
    form = EmailTemplateForm

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        template_services.save(form, by=Actor.of(request))


@admin.register(TestSend)
class TestSendAdmin(admin.ModelAdmin):
    list_display = ["sent_at", "sent_by", "version", "template", "outcome"]
    list_filter = ["outcome"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


admin.site.unregister(get_user_model())


class AdministratorKeepingForm(UserChangeForm):
    """Unticking "superuser" or "active" keeps an active administrator, as People does."""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        stored = self.instance  # the posted values reach it only after clean()
        leaving = not (data.get("is_superuser") and data.get("is_active"))
        if stored.pk and stored.is_superuser and stored.is_active and leaving:
            roles.keep_an_administrator(stored)
        return data


@admin.register(get_user_model())
class AuditedUserAdmin(UserAdmin):
    """Django's user admin without groups and permissions, which grant nothing here: roles
    are granted on the portal's People page. Making an administrator is audited."""

    form = AdministratorKeepingForm

    fieldsets = [
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Access", {"fields": ("is_active", "is_superuser")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    ]
    list_display = ["username", "email", "first_name", "last_name", "is_superuser"]
    list_filter = ["is_superuser", "is_active"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        made = "is_superuser" in form.changed_data or (not change and obj.is_superuser)
        obj.is_staff = obj.is_superuser  # Django's admin lets administrators in
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if made:
                roles.record_administrator(obj, obj.is_superuser, by=Actor.of(request))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Not the last active administrator (whose delete page then answers 403)."""
        if obj is not None and obj.is_superuser and obj.is_active:
            try:
                roles.keep_an_administrator(obj)
            except ValidationError:
                return False
        return super().has_delete_permission(request, obj)


def administrators_only(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.is_superuser


admin.site.has_permission = administrators_only
