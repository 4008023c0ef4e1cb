"""OAuth2 access tokens for SMTP's AUTH XOAUTH2: providers, their errors, the cache.

Microsoft 365 (client credentials, through msal) and Google Workspace (a service account
with domain-wide delegation, through google-auth). Every token request goes through the
outbound policy; secrets never appear in an error or a log line.
"""

from __future__ import annotations

from emailconfig.oauth.base import AccessToken, TokenError, TokenProvider
from emailconfig.oauth.cache import TokenCache, cache_key, tokens
from emailconfig.oauth.google_workspace import GMAIL_SCOPE, GoogleServiceAccount
from emailconfig.oauth.microsoft365 import OUTLOOK_SCOPE, MicrosoftClientCredentials

__all__ = [
    "GMAIL_SCOPE",
    "OUTLOOK_SCOPE",
    "AccessToken",
    "GoogleServiceAccount",
    "MicrosoftClientCredentials",
    "TokenCache",
    "TokenError",
    "TokenProvider",
    "cache_key",
    "tokens",
]
