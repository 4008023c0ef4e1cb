from django.forms.renderers import TemplatesSetting


class PortalFormRenderer(TemplatesSetting):
    """Finds widget templates in templates/ and renders labels without Django's colon."""

    field_template_name = "emailconfig/forms/field.html"
