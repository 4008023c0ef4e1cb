"""The admin API in the OpenAPI document: every operation, its token, its errors."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("get", "/stages"),
    ("get", "/stages/{slug}"),
    ("get", "/configurations"),
    ("post", "/configurations"),
    ("get", "/configurations/{configuration_id}"),
    ("patch", "/configurations/{configuration_id}"),
    ("get", "/configurations/{configuration_id}/versions"),
    ("get", "/configurations/{configuration_id}/diff"),
    ("post", "/configurations/{configuration_id}/versions/{number}/make-current"),
    ("get", "/apps"),
    ("post", "/apps"),
    ("get", "/apps/{slug}"),
    ("post", "/apps/{slug}/stages/{stage}/apply"),
    ("get", "/apps/{slug}/stages/{stage}/tokens"),
    ("post", "/apps/{slug}/stages/{stage}/tokens"),
    ("post", "/apps/{slug}/stages/{stage}/tokens/rotate"),
    ("post", "/apps/{slug}/stages/{stage}/tokens/{token_id}/revoke"),
    ("get", "/templates"),
    ("post", "/templates"),
    ("get", "/templates/{key}"),
    ("patch", "/templates/{key}"),
    ("get", "/messages"),
    ("get", "/messages/{message_id}"),
    ("post", "/messages/{message_id}/retry"),
    ("post", "/messages/{message_id}/cancel"),
}


def test_every_admin_operation_is_in_the_one_document(client):
    document = client.get("/api/v1/openapi.json").json()
    found = {
        (method, path.removeprefix("/api/v1/admin"))
        for path, operations in document["paths"].items()
        if path.startswith("/api/v1/admin/")
        for method in operations
    }
    assert found == OPERATIONS
    assert document["components"]["securitySchemes"]["AdminBearer"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        if not path.startswith("/api/v1/admin/"):
            continue
        for method, operation in operations.items():
            assert operation["security"] == [{"AdminBearer": []}], (method, path)
            assert "401" in operation["responses"], (method, path)
            if method != "get":
                assert "403" in operation["responses"], (method, path)


def test_secrets_are_write_only_in_the_document(client):
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert "smtp_password" in schemas["ConfigurationIn"]["properties"]
    out = schemas["ConfigurationOut"]["properties"]
    assert "smtp_password" not in out
    assert out["secrets"]["additionalProperties"] == {"$ref": "#/components/schemas/SecretState"}


def test_the_admin_schemas_take_no_name_of_the_apps_api():
    """One document: a schema of the same name would replace the other in its components
    (a TestRecipientIn named RecipientIn once dropped the rules of the messages' recipients)."""
    import inspect

    from ninja import Schema

    from emailconfig.api import admin, schemas
    from emailconfig.api.admin import configuration_body
    from emailconfig.api.admin import schemas as admin_schemas

    def names(*modules) -> list[str]:
        return [
            name
            for module in modules
            for name, value in vars(module).items()
            if inspect.isclass(value)
            and issubclass(value, Schema)
            and value.__module__ == module.__name__
        ]

    ours = names(
        admin_schemas, configuration_body, *(getattr(admin, m) for m in ("apps", "messages"))
    )
    assert not set(ours) & set(names(schemas))
    assert configuration_body.ConfigurationIn.__name__ not in names(schemas)
