import pytest
from django.core.exceptions import ValidationError

from emailconfig.models import AppliedConfiguration, EmailConfiguration, StageCoverage
from emailconfig.services import configurations as services
from tests import factories

pytestmark = pytest.mark.django_db


def test_saving_a_new_configuration_records_version_one(admin_user):
    config = factories.configuration("development", "qa", author=admin_user)

    version = config.latest_version()
    assert version.number == 1
    assert version.created_by == admin_user
    assert version.stage_names == ["Development", "QA"]
    assert version.options["host"] == "127.0.0.1"


def test_editing_records_a_new_version_and_keeps_the_old_one():
    config = factories.configuration()
    factories.edit(config, smtp_host="mail.example.com")

    numbers = [(v.number, v.options["host"]) for v in config.versions.all()]
    assert numbers == [(2, "mail.example.com"), (1, "127.0.0.1")]


def test_saving_without_a_change_records_no_version():
    config = factories.configuration(
        smtp_requires_auth=True, smtp_username="mailer", smtp_password="same"
    )
    config.secrets = {"password": "same"}  # a new token for the same plaintext
    assert config.secrets["password"].token != config.latest_version().secrets["password"].token
    version = services.save_configuration(
        config, stages=[factories.stage("development")], test_recipients=[], author=None
    )
    assert version is None
    assert config.versions.count() == 1


def test_changing_only_a_secret_records_a_version():
    config = factories.configuration(
        smtp_requires_auth=True, smtp_username="mailer", smtp_password="first"
    )
    version = factories.edit(config, smtp_password="second")
    assert version.number == 2
    assert version.secrets["password"].reveal() == "second"
    assert version.options == config.latest_version().options
    assert config.versions.get(number=1).secrets["password"].reveal() == "first"


def test_changing_the_test_list_records_a_version():
    config = factories.configuration(
        recipients_mode="test_list", test_recipients=[{"email": "a@example.com", "name": "A"}]
    )
    version = services.save_configuration(
        config,
        stages=[factories.stage("development")],
        test_recipients=[{"email": "b@example.com", "name": "B"}],
        author=None,
    )
    assert version.test_recipients == [{"email": "b@example.com", "name": "B"}]


def test_a_test_list_needs_a_recipient_and_nothing_is_saved():
    config = EmailConfiguration(
        **factories.engine_settings(
            {
                "name": "Empty list",
                "smtp_host": "h",
                "from_email": "a@example.com",
                "recipients_mode": "test_list",
            }
        )
    )
    with pytest.raises(ValidationError, match="at least one test recipient"):
        services.save_configuration(
            config, stages=[factories.stage("qa")], test_recipients=[], author=None
        )
    assert not EmailConfiguration.objects.filter(name="Empty list").exists()


def test_a_repeated_test_recipient_is_refused_and_nothing_is_saved():
    config = EmailConfiguration(
        **factories.engine_settings(
            {
                "name": "Twice",
                "engine": "smtp",
                "smtp_host": "127.0.0.1",
                "from_email": "a@example.com",
            }
        )
    )
    with pytest.raises(ValidationError) as refused:
        services.save_configuration(
            config,
            stages=[factories.stage("qa")],
            test_recipients=[{"email": "a@example.com"}, {"email": "A@example.com"}],
            author=None,
        )
    assert refused.value.messages == ["A@example.com is already in the test list."]
    assert not EmailConfiguration.objects.exists()


def test_a_taken_stage_is_refused_by_name_and_nothing_is_saved():
    holder = factories.configuration("qa", name="Staging mail")
    config = EmailConfiguration(
        **factories.engine_settings(
            {"name": "Second", "smtp_host": "h", "from_email": "a@example.com"}
        )
    )

    with pytest.raises(ValidationError) as caught:
        services.save_configuration(
            config,
            stages=[factories.stage("development"), factories.stage("qa")],
            test_recipients=[],
            author=None,
        )

    assert caught.value.message_dict["stages"] == ["QA is already covered by “Staging mail”."]
    assert not EmailConfiguration.objects.filter(name="Second").exists()
    assert StageCoverage.objects.get(stage__slug="qa").configuration == holder


def test_applying_to_a_stage_the_configuration_does_not_cover_is_refused(admin_user):
    config = factories.configuration("development")
    app = factories.app()

    with pytest.raises(ValidationError, match="does not cover QA"):
        services.apply_version(app, factories.stage("qa"), config.latest_version(), by=admin_user)
    assert not AppliedConfiguration.objects.exists()


def test_an_app_keeps_its_applied_version_when_the_configuration_changes(admin_user):
    config = factories.configuration("qa")
    app = factories.app()
    v1 = config.latest_version()
    services.apply_version(app, factories.stage("qa"), v1, by=admin_user)

    v2 = factories.edit(config, smtp_port=2525)

    applied = AppliedConfiguration.objects.get(app=app, stage__slug="qa")
    assert applied.version == v1
    assert applied.version.options["port"] == 1025
    assert v2.number == 2

    services.apply_version(app, factories.stage("qa"), v2, by=admin_user)
    applied.refresh_from_db()
    assert applied.version == v2
    assert AppliedConfiguration.objects.count() == 1


def test_a_stage_an_app_uses_cannot_be_dropped_from_the_configuration(admin_user):
    config = factories.configuration("development", "qa")
    services.apply_version(
        factories.app("Shop"), factories.stage("qa"), config.latest_version(), by=admin_user
    )
    with pytest.raises(ValidationError, match="QA cannot be removed: Shop uses"):
        services.save_configuration(
            config, stages=[factories.stage("development")], test_recipients=[], author=None
        )
    assert config.coverages.count() == 2


def test_adding_a_stage_records_a_version_that_names_it():
    config = factories.configuration("development")
    version = services.save_configuration(
        config,
        stages=[factories.stage("development"), factories.stage("qa")],
        test_recipients=[],
        author=None,
    )
    assert version is not None and version.number == 2
    assert version.stage_names == ["Development", "QA"]


def test_dropping_a_stage_records_a_version_without_it():
    config = factories.configuration("development", "qa")
    version = services.save_configuration(
        config, stages=[factories.stage("qa")], test_recipients=[], author=None
    )
    assert version is not None
    assert config.latest_version().stage_names == ["QA"]


def test_renaming_records_a_version_with_the_new_name():
    config = factories.configuration(name="Old name")
    version = factories.edit(config, name="New name")
    assert (version.number, version.name) == (2, "New name")
