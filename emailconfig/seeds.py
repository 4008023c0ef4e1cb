"""What an installation starts with: the stages (migration 0002) and, for `make run`, an
example template to send a first test email without writing one."""

from __future__ import annotations

from typing import Any

SEEDED_STAGES = [
    ("Development", "development", 10, False),
    ("QA", "qa", 20, False),
    ("Production", "production", 30, True),
]


def seed_stages(stage_model: Any) -> None:
    """Create the seeded stages that are missing; safe to run again."""
    for name, slug, order, is_production in SEEDED_STAGES:
        stage_model.objects.get_or_create(
            slug=slug, defaults={"name": name, "order": order, "is_production": is_production}
        )


EXAMPLE_TEMPLATE: dict[str, Any] = {
    "key": "welcome-example",
    "name": "Welcome (example)",
    "subject": "Welcome to {{ product }}, {{ name }}",
    "text_body": (
        "Hello {{ name }},\n\n"
        "this is the example template that `make run` created. Edit it, or write your own,\n"
        "under Templates.\n\n"
        "{% for step in next_steps %}- {{ step }}\n{% endfor %}\n"
        "The {{ product }} team\n"
    ),
    "html_body": (
        "<h1>Hello {{ name }},</h1>\n"
        "<p>this is the example template that <code>make run</code> created. Edit it, or "
        "write your own, under <em>Templates</em>.</p>\n"
        "<ul>{% for step in next_steps %}<li>{{ step }}</li>{% endfor %}</ul>\n"
        "<p>The {{ product }} team</p>\n"
    ),
    "sample_data": {
        "name": "Ada",
        "product": "Stagemail",
        "next_steps": ["Configure QA and Production", "Register an app", "Issue an API token"],
    },
}


def seed_example_template(template_model: Any) -> Any | None:
    """Create the example template in an installation that has no template at all.

    Never touches an existing template, so edits are kept; once deleted beside other
    templates, it stays deleted.
    """
    if template_model.objects.exists():
        return None
    return template_model.objects.create(**EXAMPLE_TEMPLATE)
