"""Test settings: the production settings module, fed a test environment."""

import os

from cryptography.fernet import Fernet

os.environ.setdefault("SECRET_KEY", "test-" + "x" * 60)
os.environ.setdefault("STAGEMAIL_ENCRYPTION_KEYS", Fernet.generate_key().decode())
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("STAGEMAIL_LOCAL_SINK", "1")  # its pages are tested with DEBUG off
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# Real servers stand in on loopback, on ports the system chooses; a SendGrid stand-in too.
os.environ.setdefault("STAGEMAIL_ALLOW_PRIVATE_HOSTS", "1")
os.environ.setdefault("STAGEMAIL_ALLOWED_SMTP_PORTS", "1024-65535")
os.environ.setdefault("STAGEMAIL_ALLOWED_HTTPS_PORTS", "1024-65535")
os.environ.setdefault("STAGEMAIL_SENDGRID_HOSTS", "127.0.0.1,localhost")
# The live server of the browser tests speaks plain HTTP.
for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
    os.environ.setdefault(name, "0")

from portal.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Pages render here without a collectstatic run; the hashed, compressed storage is tested in
# a real production start (tests/browser/test_production.py).
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
