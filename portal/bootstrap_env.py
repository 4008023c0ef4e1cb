"""Write a development `.env` with fresh keys, once. Run by `make run`.

Usage: python -m portal.bootstrap_env [path]   (default: .env in the project root)
An existing file is never touched, so keys that encrypt stored secrets survive.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

TEMPLATE = """\
# Written by `make run` on first start; never commit this file.
# Every variable is described in README.md, section Configuration.
DEBUG=1
SECRET_KEY={secret_key}
STAGEMAIL_ENCRYPTION_KEYS={encryption_key}
ALLOWED_HOSTS=127.0.0.1,localhost
# The local SMTP sink listens on 127.0.0.1:1025 (README, "Outbound connections").
STAGEMAIL_ALLOW_PRIVATE_HOSTS=1
STAGEMAIL_ALLOWED_SMTP_PORTS=1025
"""


def write_env(path: Path) -> bool:
    if path.exists():
        return False
    content = TEMPLATE.format(
        secret_key=secrets.token_urlsafe(50),
        encryption_key=Fernet.generate_key().decode(),
    )
    path.touch(mode=0o600)
    path.write_text(content)
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent.parent / ".env"
    if write_env(target):
        print(f"Wrote {target} with freshly generated keys (keep it; it decrypts your secrets).")
