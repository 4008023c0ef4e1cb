"""Builders for test data that go through the same services as the portal."""

from __future__ import annotations

import itertools
import time
from email.message import EmailMessage
from typing import Any

from emailconfig import versions
from emailconfig.composer import EmailRequest
from emailconfig.delivery import Address, DeliverySettings
from emailconfig.engines import options_of
from emailconfig.fields import Secret
from emailconfig.models import (
    ApiToken,
    App,
    ConfigurationVersion,
    EmailConfiguration,
    EmailTemplate,
    SinkMessage,
    Stage,
    StageGrant,
    StageRole,
)
from emailconfig.services import configurations as services
from emailconfig.services import tokens

_names = itertools.count(1)


def stage(slug: str) -> Stage:
    return Stage.objects.get(slug=slug)


def grant(user: Any, role: str, *stage_slugs: str) -> None:
    """`role` on the stages named (every stage without names). An editor is a production
    editor on production stages, as the groups of earlier releases were."""
    stages = Stage.objects.filter(slug__in=stage_slugs) if stage_slugs else Stage.objects.all()
    for each in stages:
        held = role
        if role == StageRole.EDITOR and each.is_production:
            held = StageRole.PRODUCTION_EDITOR
        StageGrant.objects.update_or_create(user=user, stage=each, defaults={"role": held})


def engine_settings(values: dict[str, Any], *, stored: Any = None) -> dict[str, Any]:
    """Settings named as the form names them (`smtp_host=...`) as a model holds them: the
    engine's options, completed as the form would, and its secrets. `stored`: the settings
    they change."""
    values = dict(values)
    engine = values.get("engine", stored.engine if stored is not None else "smtp")
    same_engine = stored is not None and stored.engine == engine
    options = dict(stored.options) if same_engine else {}
    secrets = dict(stored.secrets) if same_engine else {}
    options_class = options_of(engine)
    given_secrets = set()
    for name in list(values):
        found = versions.engine_option(name)
        if found is None:
            continue
        owner, option = found
        value = values.pop(name)
        if owner is options_class:
            (secrets if owner.is_secret(option) else options)[option] = value
            if owner.is_secret(option) and value:
                given_secrets.add(option)
    assert options_class is not None, f"no engine {engine!r}"
    values["options"] = options_class.complete(options)
    used = {o: v for o, v in secrets.items() if v and options_class.applies(o, values["options"])}
    unused = given_secrets - set(used)
    assert not unused, f"{sorted(unused)} would not be stored: the options given do not use them"
    values["secrets"] = used
    return values


def configuration(
    *stage_slugs: str,
    author: Any = None,
    test_recipients: list[dict[str, str]] | None = None,
    **settings: Any,
) -> EmailConfiguration:
    defaults: dict[str, Any] = {
        "name": f"Configuration {next(_names)}",
        "engine": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": 1025,
        "from_email": "noreply@example.com",
    }
    config = EmailConfiguration(**engine_settings({**defaults, **settings}))
    services.save_configuration(
        config,
        stages=[stage(slug) for slug in stage_slugs or ("development",)],
        test_recipients=test_recipients or [],
        author=author,
    )
    return config


def edit(config: EmailConfiguration, author: Any = None, **changes: Any) -> ConfigurationVersion:
    for name, value in engine_settings(changes, stored=config).items():
        setattr(config, name, value)
    version = services.save_configuration(
        config,
        stages=[c.stage for c in config.coverages.select_related("stage")],
        test_recipients=[r.as_dict() for r in config.test_recipients.all()],
        author=author,
    )
    assert version is not None, "the edit changed nothing, so no version was recorded"
    return version


def welcome_template(**overrides: Any) -> EmailTemplate:
    values = {
        "key": "welcome",
        "name": "Welcome",
        "subject": "Welcome, {{ name }}",
        "text_body": "Hello {{ name }}, welcome aboard.",
        "html_body": "<h1>Hello {{ name }}</h1><p>Welcome aboard.</p>",
        "sample_data": {"name": "Ada"},
    }
    return EmailTemplate.objects.create(**values | overrides)


def app(name: str = "Billing") -> App:
    return App.objects.create(name=name, slug=name.lower().replace(" ", "-"))


def api_credential(config: EmailConfiguration, stage_slug: str = "qa") -> ApiToken:
    """The app Billing with `config` applied on the stage, and its credential as the API
    sees it (authenticated, so it carries the applied version and rate limit)."""
    billing, on = app("Billing"), stage(stage_slug)
    services.apply_version(billing, on, config.latest_version(), by=None)
    credential = tokens.authenticate(tokens.issue(billing, on, by=None)[1])
    assert credential is not None
    return credential


def delivery_settings(**overrides: Any) -> DeliverySettings:
    """Frozen settings for engine and composer tests; no database needed."""
    values: dict[str, Any] = {
        "label": "Test configuration v1",
        "engine": "smtp",
        "sender": Address("noreply@example.com", "Example Team"),
        "reply_to": None,
        "subject_prefix": "",
        "recipients_mode": "app",
        "test_recipients": (),
        "smtp_host": "127.0.0.1",
        "smtp_port": 25,
        "trusted_ca": "",
        "connect_timeout": 5.0,
        "send_timeout": 10.0,
    }
    values = engine_settings({**values, **overrides})
    values["secrets"] = {
        option: Secret.from_plaintext(secret) if isinstance(secret, str) else secret
        for option, secret in values["secrets"].items()
        if secret is not None
    }
    return DeliverySettings(**values)


def request(**overrides: Any) -> EmailRequest:
    values: dict[str, Any] = {
        "subject": "Your invoice",
        "text": "Hello Ada,\nyour invoice is ready.",
        "html": "<p>Hello <b>Ada</b>, your invoice is ready.</p>",
        "to": (Address("ada@example.com", "Ada Lovelace"),),
    }
    values.update(overrides)
    return EmailRequest(**values)


def received(subject: str = "Your invoice for March", to: str = "ada@example.com") -> SinkMessage:
    """What the local sink keeps of a real message: text, HTML and a PDF attachment."""
    mail = EmailMessage()
    mail["From"] = "Billing <noreply@example.com>"
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content("Hello,\n\nyour invoice is attached. Thank you!\n")
    mail.add_alternative("<p>Hello,</p><p>your invoice is <b>attached</b>. Thank you!</p>", "html")
    mail.add_attachment(b"%PDF-1.4\n% an invoice\n", "application", "pdf", filename="invoice.pdf")
    return SinkMessage.objects.create(
        mail_from="bounces@example.com", rcpt_tos=[to], subject=subject, raw=mail.as_bytes()
    )


def authenticator_code(device: Any, *, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for the device; a step ahead for a second sign-in in
    the same half-minute, as each code is accepted once."""
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"
