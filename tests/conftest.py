"""Shared fixtures: the personas and the Stagemail data they work on."""

from __future__ import annotations

import hypothesis
import pytest
from django.test import Client

from emailconfig.models import StageRole

# The suite runs beside other work on two cores: a slow example is not a failure.
hypothesis.settings.register_profile("stagemail", deadline=None)
hypothesis.settings.load_profile("stagemail")


def _user(django_user_model, username: str, role: str | None = None, **extra):
    """A user with `role` on every stage."""
    from tests import factories

    user = django_user_model.objects.create_user(
        username=username, password="pw-" + username, email=f"{username}@example.com", **extra
    )
    if role:
        factories.grant(user, role)
    return user


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def editor(django_user_model):
    return _user(django_user_model, "editor", StageRole.EDITOR)


@pytest.fixture
def viewer(django_user_model):
    return _user(django_user_model, "viewer", StageRole.VIEWER)


@pytest.fixture
def outsider(django_user_model):
    return _user(django_user_model, "outsider")


@pytest.fixture
def editor_client(editor) -> Client:
    return _client_for(editor)


@pytest.fixture
def viewer_client(viewer) -> Client:
    return _client_for(viewer)


@pytest.fixture
def outsider_client(outsider) -> Client:
    return _client_for(outsider)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory):
    from tests.servers import make_certificates

    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def seeded_transactional_db(transactional_db):
    """Committed data for other processes and threads, with the seeded stages.

    Transactional tests flush the tables, seeded stages included, so they are put
    back. (Serialized rollback cannot do it for the browser tests: Playwright's event
    loop gives the test another database connection than the serialized data's.)
    """
    from emailconfig.models import Stage
    from emailconfig.seeds import seed_stages

    seed_stages(Stage)


@pytest.fixture(autouse=True)
def _forget_cached_versions():
    """Version ids come round again when tests roll back; production never reuses them."""
    from emailconfig.services.outbox import frozen_settings

    frozen_settings.cache_clear()
