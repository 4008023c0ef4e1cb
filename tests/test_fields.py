import pytest
from django.db import connection

from emailconfig.fields import Secret
from emailconfig.models import EmailConfiguration
from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple-91"
API_KEY = "SG.known-plaintext-api-key-1234567890"


def test_assigning_a_plain_string_encrypts_it_at_once():
    config = EmailConfiguration(secrets={"password": PASSWORD})
    assert isinstance(config.secrets["password"], Secret)
    assert PASSWORD not in config.secrets["password"].token
    assert config.secrets["password"].reveal() == PASSWORD


def test_a_secret_prints_as_a_mask():
    secret = Secret.from_plaintext(PASSWORD)
    assert PASSWORD not in repr(secret)
    assert PASSWORD not in str(secret)
    assert PASSWORD not in repr(EmailConfiguration(secrets={"password": PASSWORD}).__dict__)


def test_secrets_round_trip_through_the_database():
    config = factories.configuration(
        smtp_requires_auth=True, smtp_username="u", smtp_password=PASSWORD
    )
    config.refresh_from_db()
    assert config.secrets["password"].reveal() == PASSWORD
    assert config.latest_version().secrets["password"].reveal() == PASSWORD


def test_an_empty_secret_is_not_stored():
    # An empty secret is left out of the mapping, as "no value stored" (a null before).
    config = factories.configuration(smtp_requires_auth=True, smtp_username="u", smtp_password="")
    config.refresh_from_db()
    assert config.secrets == {}
    assert config.latest_version().secrets == {}
    assert EmailConfiguration(secrets={"password": "", "api_key": None}).secrets == {}


def _every_text_cell() -> str:
    """Every cell of every table, read with raw SQL."""
    tables = connection.introspection.table_names()
    cells = []
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            cells.extend(str(value) for row in cursor.fetchall() for value in row)
    return "\n".join(cells)


def test_a_raw_read_of_the_tables_never_shows_a_plaintext_secret():
    config = factories.configuration(
        smtp_requires_auth=True, smtp_username="mailer", smtp_password=PASSWORD
    )
    factories.edit(config, engine="sendgrid", sendgrid_api_key=API_KEY)

    dump = _every_text_cell()

    assert "mailer" in dump  # the read does see the rows
    assert PASSWORD not in dump
    assert API_KEY not in dump


def test_dumpdata_carries_only_ciphertext_and_loaddata_restores_the_secret():
    from django.core import serializers

    config = factories.configuration(
        smtp_requires_auth=True, smtp_username="u", smtp_password=PASSWORD
    )
    dumped = serializers.serialize("json", [config])
    assert PASSWORD not in dumped
    assert config.secrets["password"].token in dumped

    [restored] = serializers.deserialize("json", dumped)
    assert restored.object.secrets["password"].reveal() == PASSWORD
