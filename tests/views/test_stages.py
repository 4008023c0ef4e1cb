import pytest
from django.urls import reverse

from emailconfig.models import Stage
from tests import factories

pytestmark = pytest.mark.django_db


def _names():
    return list(Stage.objects.values_list("name", flat=True))


def test_an_editor_adds_a_stage_at_the_end(admin_client):
    admin_client.post(reverse("emailconfig:stage_create"), {"name": "Staging"})
    assert _names() == ["Development", "QA", "Production", "Staging"]
    assert Stage.objects.get(name="Staging").slug == "staging"


def test_an_editor_renames_and_marks_production(admin_client):
    admin_client.post(
        reverse("emailconfig:stage_edit", args=["qa"]),
        {"name": "Quality", "slug": "qa", "is_production": "on"},
    )
    stage = Stage.objects.get(slug="qa")
    assert (stage.name, stage.is_production) == ("Quality", True)


def test_a_duplicate_stage_name_is_refused(admin_client):
    response = admin_client.post(reverse("emailconfig:stage_create"), {"name": "QA"})
    assert response.context["form"].errors["name"] == ["Stage with this Name already exists."]


def test_reordering_moves_a_stage_up_and_down(admin_client):
    admin_client.post(reverse("emailconfig:stage_move", args=["production"]), {"direction": "up"})
    assert _names() == ["Development", "Production", "QA"]
    admin_client.post(
        reverse("emailconfig:stage_move", args=["development"]), {"direction": "down"}
    )
    assert _names() == ["Production", "Development", "QA"]
    admin_client.post(reverse("emailconfig:stage_move", args=["production"]), {"direction": "up"})
    assert _names() == ["Production", "Development", "QA"]


def test_a_stage_in_use_cannot_be_deleted_and_says_why(admin_client):
    factories.configuration("qa", name="QA mail")
    response = admin_client.post(reverse("emailconfig:stage_delete", args=["qa"]), follow=True)
    assert "QA is in use and cannot be deleted: “QA mail” covers it." in response.content.decode()
    assert "QA" in _names()


def test_an_unused_stage_is_deleted_after_confirmation(admin_client):
    url = reverse("emailconfig:stage_delete", args=["production"])
    assert "Delete the stage Production?" in admin_client.get(url).content.decode()
    admin_client.post(url)
    assert _names() == ["Development", "QA"]


def test_moving_needs_a_post(admin_client):
    assert admin_client.get(reverse("emailconfig:stage_move", args=["qa"])).status_code == 405


def test_the_stages_page_lists_the_stages_in_their_new_order_after_a_move(admin_client):
    admin_client.post(reverse("emailconfig:stage_create"), {"name": "Staging"})
    response = admin_client.post(
        reverse("emailconfig:stage_move", args=["staging"]), {"direction": "up"}, follow=True
    )
    page = response.content.decode()
    assert "Moved Staging up." in page
    rows = [page.index(f'<th scope="row">{name} ') for name in ("Development", "QA", "Staging")]
    assert rows == sorted(rows)
    assert page.index('<th scope="row">Staging ') < page.index('<th scope="row">Production ')
