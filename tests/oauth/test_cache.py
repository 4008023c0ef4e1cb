"""The token cache: one fetch per configuration version and identity while a token is good."""

import threading
import time

import pytest

from emailconfig.oauth import MicrosoftClientCredentials, TokenCache, TokenError, cache_key
from tests.token_servers import CLIENT_ID, CLIENT_SECRET, TENANT


@pytest.fixture
def provider(stand_in, certificates):
    return MicrosoftClientCredentials(
        TENANT,
        CLIENT_ID,
        CLIENT_SECRET,
        authority_host=stand_in.base,
        trusted_ca=certificates.ca_pem,
        timeout=5.0,
    )


def test_a_token_is_fetched_once_and_reused(stand_in, provider):
    cache, key = TokenCache(), cache_key(7, provider)
    assert cache.get(key, provider).value == "token-1"
    assert cache.get(key, provider).value == "token-1"
    assert len(stand_in.token_requests) == 1


def test_a_token_about_to_expire_is_fetched_again(stand_in, provider):
    stand_in.expires_in = 61  # one second before the margin
    cache, key = TokenCache(margin=60), cache_key(7, provider)
    assert cache.get(key, provider).value == "token-1"
    assert cache.get(key, provider).value == "token-1"
    time.sleep(1.1)
    assert cache.get(key, provider).value == "token-2"
    assert len(stand_in.token_requests) == 2


def test_each_version_has_its_own_token(stand_in, provider):
    cache = TokenCache()
    assert cache.get(cache_key(7, provider), provider).value == "token-1"
    assert cache.get(cache_key(8, provider), provider).value == "token-2"


def test_another_secret_is_another_identity(stand_in, provider, certificates):
    other = MicrosoftClientCredentials(
        TENANT, CLIENT_ID, "another secret", authority_host=stand_in.base
    )
    assert cache_key(None, provider) != cache_key(None, other)
    assert CLIENT_SECRET not in repr(cache_key(None, provider))


def test_an_invalidated_token_is_fetched_again(stand_in, provider):
    cache, key = TokenCache(), cache_key(7, provider)
    refused = cache.get(key, provider)
    cache.invalidate(key, refused)
    assert cache.get(key, provider).value == "token-2"


def test_invalidating_a_token_already_replaced_keeps_the_new_one(stand_in, provider):
    cache, key = TokenCache(), cache_key(7, provider)
    old = cache.get(key, provider)
    cache.refresh(key, provider)
    cache.invalidate(key, old)  # a worker that met the old token, late
    assert cache.get(key, provider).value == "token-2"
    assert len(stand_in.token_requests) == 2


def test_workers_asking_at_once_wait_for_one_fetch(stand_in, provider):
    cache, key = TokenCache(), cache_key(7, provider)
    got: list[str] = []
    workers = [
        threading.Thread(target=lambda: got.append(cache.get(key, provider).value))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert got == ["token-1"] * 4
    assert len(stand_in.token_requests) == 1


def test_a_failed_fetch_is_not_cached(stand_in, provider):
    cache, key = TokenCache(), cache_key(7, provider)
    stand_in.error = {"error": "invalid_client", "error_codes": [7000215]}
    with pytest.raises(TokenError):
        cache.get(key, provider)
    stand_in.error = None
    assert cache.get(key, provider).value == "token-1"
