import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from emailconfig.models import ConfigurationVersion, Stage, StageCoverage
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_three_stages_are_seeded_in_order():
    assert [(s.name, s.is_production) for s in Stage.objects.all()] == [
        ("Development", False),
        ("QA", False),
        ("Production", True),
    ]


def test_the_database_refuses_a_second_configuration_for_a_stage():
    factories.configuration("qa")
    other = factories.configuration("development")

    with pytest.raises(IntegrityError), transaction.atomic():
        StageCoverage.objects.create(stage=factories.stage("qa"), configuration=other)


def test_the_database_refuses_a_port_out_of_range():
    config = factories.configuration()
    with pytest.raises(IntegrityError), transaction.atomic():
        type(config).objects.filter(pk=config.pk).update(smtp_port=70000)


def test_the_database_refuses_a_second_version_with_the_same_number():
    config = factories.configuration()
    version = config.latest_version()
    version.pk = None
    version._state.adding = True
    with pytest.raises(IntegrityError), transaction.atomic():
        version.save()


def test_a_version_cannot_be_changed_once_recorded():
    version = factories.configuration().latest_version()
    version.smtp_port = 2525
    with pytest.raises(ValidationError, match="immutable"):
        version.save()
    assert ConfigurationVersion.objects.get(pk=version.pk).smtp_port == 1025


def test_a_stage_in_use_cannot_be_deleted():
    factories.configuration("qa")
    with pytest.raises(Exception, match="protected"), transaction.atomic():
        factories.stage("qa").delete()
