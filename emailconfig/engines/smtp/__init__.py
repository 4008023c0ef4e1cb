"""SMTP: the engine, its options (password or OAuth2 sign-in), its hints and XOAUTH2."""

from emailconfig.engines.smtp.engine import SMTPEngine

__all__ = ["SMTPEngine"]
