"""Fixtures for the OAuth2 tests: token stand-ins over HTTPS for localhost."""

import pytest

from tests.token_servers import token_stand_in


@pytest.fixture
def stand_in(certificates):
    with token_stand_in(tls=certificates.server_context(certificates.localhost)) as running:
        yield running
