"""Access tokens kept per configuration version and provider identity, in this process.

A token lives about an hour; asking for one per message would put the token service in
every delivery's path. A token is reused until `margin` seconds before it expires, and
dropped when the SMTP server refuses it (a 535: revoked, or permissions changed).
Each key has its own lock, so workers needing the same token wait for one fetch, and a
slow token service for one configuration holds up no other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable

from emailconfig.oauth.base import AccessToken, TokenProvider

MARGIN = 60.0  # seconds: a token this close to expiring is not handed out


def cache_key(version_id: int | None, provider: TokenProvider) -> Hashable:
    return (version_id, *provider.identity)


class TokenCache:
    def __init__(self, margin: float = MARGIN) -> None:
        self.margin = margin
        self._tokens: dict[Hashable, AccessToken] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, provider: TokenProvider) -> AccessToken:
        """The cached token while it is usable, else a new one from `provider`.

        Raises TokenError when the provider gives none.
        """
        with self._lock_for(key):
            token = self._tokens.get(key)
            if token is not None and token.seconds_left() > self.margin:
                return token
            return self._fetch(key, provider)

    def refresh(self, key: Hashable, provider: TokenProvider) -> AccessToken:
        """A new token from `provider`, kept for the next `get` (the connection test's)."""
        with self._lock_for(key):
            return self._fetch(key, provider)

    def invalidate(self, key: Hashable, token: AccessToken | None = None) -> None:
        """Forget the token of `key`; with `token`, only if it is still that one, so a
        worker that met a refused token does not drop the one another just fetched."""
        with self._guard:
            if token is None or self._tokens.get(key) == token:
                self._tokens.pop(key, None)

    def clear(self) -> None:
        with self._guard:
            self._tokens.clear()

    def _lock_for(self, key: Hashable) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _fetch(self, key: Hashable, provider: TokenProvider) -> AccessToken:
        token = provider.fetch()
        with self._guard:
            self._tokens[key] = token
            # Versions come and go: drop what has expired (and its lock), so the dict
            # holds the configurations in use, not every one ever used.
            now = time.time()
            for stale in [k for k, t in self._tokens.items() if t.expires_at <= now]:
                del self._tokens[stale]
                if stale != key:
                    self._locks.pop(stale, None)
        return token


tokens = TokenCache()  # the process's cache, shared by its engines
