"""Who may do what, stage by stage: the one rule every page, form choice list and command asks.

- Administrators (superusers) may do everything: stages, people and their roles, the audit
  trail and Django's admin. They need no stage role.
- On a stage, a viewer reads; an editor also edits configurations, applies them, issues
  tokens and test-sends; on a production stage only a production editor changes anything.
- A configuration belongs to the stages it covers: seen by whoever sees one of them, changed
  by whoever may change all of them. One that covers no stage yet is a draft of every editor.
- Apps and the local sink are everyone's with a role (apps are shown with the stages one
  sees); templates serve every stage, so changing one takes edit rights on every stage.

A stage one may not see does not exist for them: its objects answer 404, not 403.

An administrator token acts with its owner's access narrowed to the token's stages (and to
viewing, for a read token), asked afresh at every request: a role taken from the owner is
taken from their tokens too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db.models import Q, QuerySet

from emailconfig.models import EmailConfiguration, Message, Stage, StageGrant, StageRole

# Cached on the user object, so a request asks the database once.
CACHE_ATTRIBUTE = "_stagemail_access"


@dataclass(frozen=True)
class Access:
    administrator: bool
    roles: dict[int, str] = field(default_factory=dict)  # stage pk -> StageRole value

    @classmethod
    def of(cls, user: Any) -> Access:
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return cls(administrator=False)
        cached = getattr(user, CACHE_ATTRIBUTE, None)
        if cached is None:
            cached = cls(
                administrator=user.is_superuser,
                roles=dict(StageGrant.objects.filter(user=user).values_list("stage_id", "role")),
            )
            setattr(user, CACHE_ATTRIBUTE, cached)
        return cached

    def narrowed(self, stage_ids: Iterable[int], *, write: bool) -> Access:
        """What a token acting for them may do: only on `stage_ids`, and only view unless
        `write`; never more than they may themselves (an administrator's token included)."""
        wanted = set(stage_ids)
        if self.administrator:
            held = dict.fromkeys(wanted, StageRole.PRODUCTION_EDITOR)
        else:
            held = {pk: role for pk, role in self.roles.items() if pk in wanted}
        if not write:
            held = dict.fromkeys(held, StageRole.VIEWER)
        return Access(administrator=False, roles=held)

    @staticmethod
    def forget(user: Any) -> None:
        """After the user's roles changed, within the same request."""
        user.__dict__.pop(CACHE_ATTRIBUTE, None)

    # The portal as a whole ------------------------------------------------------------

    @property
    def is_member(self) -> bool:
        """Whether the portal has anything to show them."""
        return self.administrator or bool(self.roles)

    @cached_property
    def edits_somewhere(self) -> bool:
        return self.administrator or self.editable_stages().exists()

    @cached_property
    def edits_every_stage(self) -> bool:
        """Needed for what every stage shares: templates."""
        if self.administrator:
            return True
        return (
            self.edits_somewhere
            and not Stage.objects.exclude(pk__in=self.editable_stages()).exists()
        )

    # Stages ---------------------------------------------------------------------------

    def sees(self, stage: Stage) -> bool:
        return self.administrator or stage.pk in self.roles

    def edits(self, stage: Stage) -> bool:
        if self.administrator:
            return True
        role = self.roles.get(stage.pk)
        if stage.is_production:
            return role == StageRole.PRODUCTION_EDITOR
        return role in (StageRole.EDITOR, StageRole.PRODUCTION_EDITOR)

    def stages(self) -> QuerySet[Stage]:
        """The stages they see, in the stages' order."""
        every = Stage.objects.order_by("order", "name")
        return every if self.administrator else every.filter(pk__in=self.roles)

    def editable_stages(self) -> QuerySet[Stage]:
        every = Stage.objects.order_by("order", "name")
        if self.administrator:
            return every
        production_editor = [pk for pk, r in self.roles.items() if r == StageRole.PRODUCTION_EDITOR]
        editor = [pk for pk, r in self.roles.items() if r == StageRole.EDITOR]
        return every.filter(Q(pk__in=production_editor) | Q(pk__in=editor, is_production=False))

    # Objects of stages ----------------------------------------------------------------

    def configurations(self) -> QuerySet[EmailConfiguration]:
        """The configurations they see: covering a stage they see, or no stage yet."""
        every = EmailConfiguration.objects.all()
        if self.administrator:
            return every
        if not self.roles:
            return every.none()
        covering_seen = Q(coverages__stage__in=list(self.roles)) | Q(coverages__isnull=True)
        return every.filter(pk__in=every.filter(covering_seen).values("pk"))

    def edits_configuration(
        self, configuration: EmailConfiguration, chosen: Iterable[Stage] = ()
    ) -> bool:
        """Every stage it covers, and every stage an edit would give it, must be theirs."""
        covered = (
            list(Stage.objects.filter(coverage__configuration=configuration))
            if configuration.pk
            else []
        )
        stages = [*covered, *chosen]
        if not stages:
            return self.edits_somewhere
        return all(self.edits(stage) for stage in stages)

    def messages(self) -> QuerySet[Message]:
        every = Message.objects.all()
        return every if self.administrator else every.filter(stage_id__in=list(self.roles))
