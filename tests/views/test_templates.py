import pytest
from django.urls import reverse

from emailconfig.models import EmailTemplate
from tests.template_bombs import CPU_BOMB, MEMORY_BOMBS, REFUSALS

pytestmark = pytest.mark.django_db


def _data(**overrides):
    data = {
        "key": "welcome",
        "name": "Welcome",
        "subject": "Welcome, {{ user.name }}",
        "text_body": "Hello {{ user.name }}",
        "html_body": "<p>Hello <b>{{ user.name }}</b></p>",
        "sample_data": '{"user": {"name": "Ada"}}',
    }
    data.update(overrides)
    return data


def test_an_editor_creates_a_template(editor_client, editor):
    response = editor_client.post(reverse("emailconfig:template_create"), _data())
    assert response.status_code == 302
    template = EmailTemplate.objects.get()
    assert template.sample_data == {"user": {"name": "Ada"}}
    assert template.updated_by == editor


def test_a_syntax_error_is_shown_on_its_field_with_its_line(editor_client):
    response = editor_client.post(
        reverse("emailconfig:template_create"),
        _data(html_body="<p>\n{% if user %}\nno end"),
    )
    errors = response.context["form"].errors
    assert errors["html_body"][0].startswith("Line 2: Unexpected end of template.")
    assert not EmailTemplate.objects.exists()


def test_an_undefined_variable_in_the_sample_data_is_reported(editor_client):
    response = editor_client.post(
        reverse("emailconfig:template_create"), _data(text_body="Hi {{ customer }}")
    )
    assert response.context["form"].errors["text_body"] == [
        "With the sample data: Line 1: 'customer' is undefined"
    ]


def test_bad_sample_data_json_says_where(editor_client):
    response = editor_client.post(
        reverse("emailconfig:template_create"), _data(sample_data='{"user": }')
    )
    assert response.context["form"].errors["sample_data"] == [
        "Not valid JSON: Expecting value (line 1, column 10)."
    ]


def test_a_sandbox_escape_cannot_be_saved(editor_client):
    response = editor_client.post(
        reverse("emailconfig:template_create"),
        _data(text_body="{{ ''.__class__.__mro__[1].__subclasses__() }}"),
    )
    assert "Not allowed in a template" in response.context["form"].errors["text_body"][0]


def test_a_template_needs_a_body(editor_client):
    response = editor_client.post(
        reverse("emailconfig:template_create"), _data(text_body="", html_body="")
    )
    assert response.context["form"].errors["text_body"] == [
        "Write a text body, an HTML body, or both."
    ]


@pytest.mark.parametrize(
    "sample",
    ["[" * 20000 + "]" * 20000, '{"n": ' + "9" * 5000 + "}", '{"name": "\\ud800"}'],
)
def test_absurd_sample_data_is_a_field_error_not_a_crash(editor_client, sample):
    response = editor_client.post(reverse("emailconfig:template_create"), _data(sample_data=sample))
    assert response.status_code == 200
    assert response.context["form"].errors["sample_data"]


@pytest.mark.parametrize("bomb", MEMORY_BOMBS.values(), ids=MEMORY_BOMBS.keys())
def test_a_memory_bomb_cannot_be_saved(editor_client, bomb):
    response = editor_client.post(
        reverse("emailconfig:template_create"), _data(sample_data="{}", text_body=bomb)
    )
    [error] = response.context["form"].errors["text_body"]
    assert error.removeprefix("With the sample data: ") in REFUSALS
    assert not EmailTemplate.objects.exists()


def test_a_template_that_outlasts_the_time_limit_is_refused_as_a_whole(editor_client):
    response = editor_client.post(
        reverse("emailconfig:template_create"), _data(sample_data="{}", text_body=CPU_BOMB)
    )
    assert response.context["form"].non_field_errors() == [
        "With the sample data: Rendering took longer than 2 seconds."
    ]
