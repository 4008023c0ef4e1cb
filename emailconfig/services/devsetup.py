"""The local development setup that `make run` creates: a sink-backed Development configuration."""

from __future__ import annotations

from django.db import transaction

from emailconfig.models import EmailConfiguration, Stage, StageCoverage
from emailconfig.services.configurations import save_configuration

SINK_HOST, SINK_PORT = "127.0.0.1", 1025
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
        smtp_host=SINK_HOST,
        smtp_port=SINK_PORT,
        from_email="stagemail@localhost.localdomain",
        from_name="Stagemail (development)",
    )
    save_configuration(configuration, stages=[stage], test_recipients=[], author=None)
    return configuration
