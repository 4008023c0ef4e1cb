"""Which actions touch production: the one rule the confirmation forms ask by.

Three actions do: applying a configuration to an app on a production stage (re-applying
too), editing a configuration that covers a production stage (before or after the edit),
and test-sending through a configuration that covers one. The connection test sends no
message, so it is not one of them.
"""

from __future__ import annotations

from collections.abc import Iterable

from emailconfig.models import EmailConfiguration, Stage


def production_stages(stages: Iterable[Stage]) -> list[Stage]:
    """The production stages among `stages`, each once, in the stages' order."""
    unique = {stage.pk: stage for stage in stages if stage.is_production}
    return sorted(unique.values(), key=lambda stage: (stage.order, stage.name))


def touched_by_apply(stage: Stage) -> list[Stage]:
    return production_stages([stage])


def touched_by_edit(configuration: EmailConfiguration, chosen: Iterable[Stage] = ()) -> list[Stage]:
    """Stages covered now and stages chosen in the edit: moving off production touches it too."""
    return production_stages([*covered_stages(configuration), *chosen])


def touched_by_test_send(configuration: EmailConfiguration) -> list[Stage]:
    return production_stages(covered_stages(configuration))


def covered_stages(configuration: EmailConfiguration) -> list[Stage]:
    if configuration.pk is None:
        return []
    return list(Stage.objects.filter(coverage__configuration=configuration))
