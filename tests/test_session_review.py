"""Review of the session's import, export and promotion: hostile input and borrowed rights.

Each test failed on the code it was written against.
"""

from __future__ import annotations

import ast
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from emailconfig import exports
from emailconfig.codestream import read
from emailconfig.services import imports
from tests import factories

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("emailconfig:codestream_import")


def _codestream(nodemailer: dict, email: dict | None = None) -> str:
    return json.dumps(
        {
            "emailDeliveryService": {"NodeMailer": nodemailer},
            "email": email or {"senderEmail": "codestream@example.com"},
        }
    )


def _upload(client, text: str | bytes, stage: str = "qa"):
    content = text.encode() if isinstance(text, str) else text
    return client.post(
        IMPORT_URL,
        {
            "file": SimpleUploadedFile("config.json", content, "application/json"),
            "stage": factories.stage(stage).pk,
        },
    )


# Import: hostile files are problems on the page, never a server error.


def test_a_deeply_nested_file_is_a_problem_not_a_server_error(editor_client):
    deep = '{"emailDeliveryService": ' + "[" * 20_000 + "]" * 20_000 + "}"
    response = _upload(editor_client, deep)
    assert response.status_code == 200
    assert "This file cannot be imported yet" in response.content.decode()


def test_a_port_of_thousands_of_digits_is_not_a_port():
    reading = read(_codestream({"host": "smtp.example.com", "port": "9" * 5000}))
    assert any(p.startswith("emailDeliveryService.NodeMailer.port:") for p in reading.problems)


@pytest.mark.parametrize(
    "host", ["a..example.com", "a" * 64 + ".example.com", "smtp.ex\ud800ample.com"]
)
def test_a_host_the_resolver_cannot_encode_is_an_error_on_the_host(host):
    text = _codestream({"host": host, "port": 587, "secure": False})
    plan = imports.plan(text, stage=factories.stage("qa"))
    assert any(p.startswith("emailDeliveryService.NodeMailer.host:") for p in plan.problems)


def test_a_username_with_a_lone_surrogate_is_refused_before_saving():
    text = _codestream(
        {"host": "smtp.example.com", "port": 587, "secure": False}
        | {"username": "ops\ud800", "password": "secret"}
    )
    plan = imports.plan(text, stage=factories.stage("qa"), confirm_stage="")
    assert any(p.startswith("emailDeliveryService.NodeMailer.username:") for p in plan.problems)


@pytest.mark.parametrize(
    "password",
    [98765432109, {"value": "Sup3r-s3cret"}, ["Sup3r-s3cret"], "Sup3r${s3cret", "Sup3r{{s3cret"],
)
def test_a_password_the_importer_refuses_is_not_echoed(editor_client, password):
    section = {"host": "smtp.example.com", "port": 465, "username": "ops", "password": password}
    page = _upload(editor_client, _codestream(section)).content.decode()
    assert "emailDeliveryService.NodeMailer.password:" in page
    assert "98765432109" not in page and "s3cret" not in page


def test_an_api_key_the_importer_refuses_is_not_echoed():
    text = json.dumps(
        {
            "emailDeliveryService": {"sendgrid": {"apiKey": {"key": "SG.live-key"}}},
            "email": {"senderEmail": "codestream@example.com"},
        }
    )
    problems = read(text).problems
    assert any(p.startswith("emailDeliveryService.sendgrid.apiKey:") for p in problems)
    assert "SG.live-key" not in " ".join(problems)


# Exports: hostile names and values stay data.


HOSTILE = 'a"""\'\'\'\\\n__import__("os").system("id")#\r\u2028'


def test_the_python_snippet_stays_data_whatever_the_values():
    version = factories.configuration(
        "qa",
        name=HOSTILE,
        smtp_host="smtp.example.com",
        smtp_requires_auth=True,
        smtp_username=HOSTILE,
        smtp_password="secret",
        subject_prefix=HOSTILE[:38],
        from_name=HOSTILE,
    ).latest_version()
    snippet = exports.as_python(exports.django_mailers(version))
    tree = ast.parse(snippet)
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    compile(snippet, "mailers.py", "exec")
    assert "secret" not in snippet


def test_an_environment_variable_name_never_starts_with_a_digit():
    version = factories.configuration("qa", name="2025 relay").latest_version()
    name = exports.variable_name(version.name, "PASSWORD")
    assert name.isidentifier() and name.isupper(), name
