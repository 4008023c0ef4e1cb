import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from emailconfig.engines import options_of
from emailconfig.engines.smtp.options import SMTPOptions
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


SMTP_OPTIONS = {"host": "127.0.0.1", "port": 25, "security": "none", "requires_auth": False}


def test_a_port_out_of_range_is_refused_by_the_engines_options():
    # No CHECK constraint any more: the engine's options form guards what a person or the
    # admin API enters, and `problems()` what a document (as code) holds.
    form = SMTPOptions(
        data={"smtp_host": "127.0.0.1", "smtp_port": "70000", "smtp_security": "none"}
    )
    assert not form.is_valid()
    assert form.errors["smtp_port"] == ["Ensure this value is less than or equal to 65535."]
    assert SMTPOptions(data={**form.data, "smtp_port": "65535"}).is_valid()

    assert SMTPOptions.problems({**SMTP_OPTIONS, "port": 70000}, {}) == [
        ("options.port", "Ensure this value is less than or equal to 65535.")
    ]
    assert [path for path, _ in SMTPOptions.problems({**SMTP_OPTIONS, "port": 0}, {})] == [
        "options.port"
    ]
    assert SMTPOptions.problems(SMTP_OPTIONS, {}) == []


def test_an_unknown_security_or_engine_is_refused():
    assert [path for path, _ in SMTPOptions.problems({**SMTP_OPTIONS, "security": "ssl"}, {})] == [
        "options.security"
    ]
    form = SMTPOptions(data={"smtp_host": "127.0.0.1", "smtp_port": "25", "smtp_security": "ssl"})
    assert not form.is_valid() and "smtp_security" in form.errors

    assert options_of("pigeon") is None
    with pytest.raises(ValidationError):
        ConfigurationVersion._meta.get_field("engine").clean("pigeon", None)
    assert ConfigurationVersion._meta.get_field("engine").clean("sendgrid", None) == "sendgrid"


def test_the_database_refuses_a_second_version_with_the_same_number():
    config = factories.configuration()
    version = config.latest_version()
    version.pk = None
    version._state.adding = True
    with pytest.raises(IntegrityError), transaction.atomic():
        version.save()


def test_a_version_cannot_be_changed_once_recorded():
    version = factories.configuration().latest_version()
    version.options = {**version.options, "port": 2525}
    with pytest.raises(ValidationError, match="immutable"):
        version.save()
    assert ConfigurationVersion.objects.get(pk=version.pk).options["port"] == 1025


def test_a_version_cannot_be_changed_in_place_either():
    version = factories.configuration(
        smtp_requires_auth=True, smtp_username="mailer", smtp_password="first"
    ).latest_version()
    version.options["port"] = 2525
    with pytest.raises(ValidationError, match="immutable"):
        version.save()
    version = ConfigurationVersion.objects.get(pk=version.pk)
    version.secrets = {"password": "second"}
    with pytest.raises(ValidationError, match="immutable"):
        version.save()
    stored = ConfigurationVersion.objects.get(pk=version.pk)
    assert stored.options["port"] == 1025
    assert stored.secrets["password"].reveal() == "first"


def test_a_stage_in_use_cannot_be_deleted():
    factories.configuration("qa")
    with pytest.raises(Exception, match="protected"), transaction.atomic():
        factories.stage("qa").delete()
