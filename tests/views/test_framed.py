"""The frame a message's HTML part is shown in renders as a srcdoc frame did: standards mode."""

from emailconfig.views.framed import html_part


def test_a_part_without_a_doctype_is_shown_in_standards_mode():
    response = html_part("<p style='margin:0'>Hello</p>")
    assert response.content.decode() == "<!DOCTYPE html>\n<p style='margin:0'>Hello</p>"


def test_a_part_with_its_own_doctype_is_shown_as_it_is():
    for html in ("<!DOCTYPE html><p>Hi</p>", "\n  <!doctype HTML PUBLIC '-//W3C//DTD'><p>Hi</p>"):
        assert html_part(html).content.decode() == html
