"""The local development setup that `make run` creates: a sink-backed Development
configuration and an example template, so a first test email needs no writing."""

from __future__ import annotations

from urllib.parse import urlencode

from django.db import transaction
from django.urls import reverse

from emailconfig import outbound
from emailconfig.models import EmailConfiguration, EmailTemplate, Stage, StageCoverage
from emailconfig.seeds import EXAMPLE_TEMPLATE, seed_example_template
from emailconfig.services.configurations import save_configuration

SINK_HOST, SINK_PORT = "127.0.0.1", 1025
INGRESS_ADDRESS = "127.0.0.1:1587"  # SMTP submission for apps (loopback, so no TLS needed)
DEV_CONFIGURATION = "Local development sink"


@transaction.atomic
def ensure_development_configuration() -> EmailConfiguration | None:
    """Point the Development stage at the local sink, unless it already has a configuration."""
    stage = Stage.objects.filter(slug="development").first()
    if stage is None or StageCoverage.objects.filter(stage=stage).exists():
        return None
    if EmailConfiguration.objects.filter(name=DEV_CONFIGURATION).exists():
        return None
    configuration = EmailConfiguration(
        name=DEV_CONFIGURATION,
        engine="smtp",
        options={"host": SINK_HOST, "port": SINK_PORT, "security": "none", "requires_auth": False},
        from_email="stagemail@localhost.localdomain",
        from_name="Stagemail (development)",
    )
    save_configuration(configuration, stages=[stage], test_recipients=[], author=None)
    return configuration


def ensure_example_template() -> EmailTemplate | None:
    """The example template, created only where there is no template yet."""
    return seed_example_template(EmailTemplate)


def first_email_path() -> str | None:
    """The preview page with the sink configuration and the example template chosen, where
    *Send test* sends a first email to the local sink; None once either is gone."""
    configuration = EmailConfiguration.objects.filter(name=DEV_CONFIGURATION).first()
    template = EmailTemplate.objects.filter(key=EXAMPLE_TEMPLATE["key"]).first()
    if configuration is None or template is None:
        return None
    query = urlencode({"configuration": configuration.pk, "template": template.pk})
    return f"{reverse('emailconfig:preview')}?{query}"


def sink_refused() -> str:
    """Why the outbound policy would refuse the local sink (an `.env` written before the
    policy lacks its two lines); empty when delivery may reach it."""
    try:
        outbound.check_port(SINK_PORT, outbound.SMTP)
        outbound.checked_addresses(SINK_HOST, SINK_PORT)
    except outbound.OutboundRefused as refused:
        return (
            f"{refused.message} The local sink needs STAGEMAIL_ALLOW_PRIVATE_HOSTS=1 and "
            f"STAGEMAIL_ALLOWED_SMTP_PORTS={SINK_PORT} in .env."
        )
    return ""
