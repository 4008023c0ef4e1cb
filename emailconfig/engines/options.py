"""An engine's options: the form fields it shows, how it checks them, what it stores.

A configuration is shaped as Django's `MAILERS` shapes one: an engine and that engine's
options. The engine module owns them as an `EngineOptions` form. Its fields are named
`<engine>_<option>` (`smtp_host`), so the configuration form can hold every engine's at
once and a browser, the admin API and an import post the same names; stored, the prefix
is dropped: `{"host": ..., "port": ...}` in `options`, and the values of the secret
inputs (`SecretFormField`) encrypted in `secrets`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError

from emailconfig.fields import Secret
from emailconfig.forms.secrets import CLEAR_STORED_SECRET, KEEP_STORED_SECRET, SecretFormField


class EngineOptions(forms.Form):
    engine: ClassVar[str]  # the registry's key, the prefix of every field name
    # The options naming the server each secret is sent to. A stored secret is sent only
    # to the server it was entered for; moving it there needs it typed again.
    secret_destinations: ClassVar[dict[str, tuple[str, ...]]] = {}
    # Options used only when others have a value: {"password": {"requires_auth": True}}.
    # The one rule for what is stored, shown (the form hides the rest) and displayed.
    used_when: ClassVar[dict[str, dict[str, Any]]] = {}
    # Options side by side on the form; the others each on their own line.
    pairs: ClassVar[tuple[tuple[str, str], ...]] = ()
    template_name = "emailconfig/engines/options.html"
    # Settings every configuration has that this engine does not use ("envelope_from").
    ignores: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, stored: Mapping[str, Secret] | None = None, **kwargs: Any):
        """`stored`: the secrets the configuration holds for this engine, by option."""
        super().__init__(*args, **kwargs)
        self.stored = dict(stored or {})
        for option, field in self.secret_fields():
            field.stored = option in self.stored

    def _post_clean(self) -> None:
        """An option that does not apply is neither stored nor checked: what a hidden
        field holds (a tenant typed before choosing a password) never blocks a save."""
        super()._post_clean()
        chosen = {
            option: self.cleaned_data[name]
            for option in self.option_names()
            if (name := self.field_name(option)) in self.cleaned_data
        }
        for option in self.option_names():
            if not self.applies(option, chosen):
                self._errors.pop(self.field_name(option), None)

    # Names ---------------------------------------------------------------------

    @classmethod
    def field_name(cls, option: str) -> str:
        return f"{cls.engine}_{option}"

    @classmethod
    def option_names(cls) -> list[str]:
        prefix = f"{cls.engine}_"
        return [name.removeprefix(prefix) for name in cls.base_fields]

    @classmethod
    def is_secret(cls, option: str) -> bool:
        return isinstance(cls.base_fields.get(cls.field_name(option)), SecretFormField)

    @classmethod
    def label(cls, option: str) -> str:
        return str(cls.base_fields[cls.field_name(option)].label)

    def secret_fields(self) -> Iterator[tuple[str, SecretFormField]]:
        for option in self.option_names():
            field = self.fields[self.field_name(option)]
            if isinstance(field, SecretFormField):
                yield option, field

    # What applies ---------------------------------------------------------------

    @classmethod
    def applies(cls, option: str, options: Mapping[str, Any]) -> bool:
        """Whether `option` is used with these options; one that is not is neither shown
        nor stored (a password without authentication)."""
        return all(
            cls._value(other, options) == wanted
            for other, wanted in cls.used_when.get(option, {}).items()
        )

    @classmethod
    def _value(cls, option: str, options: Mapping[str, Any]) -> Any:
        """An option's value, its default when left out; a checkbox's as a bool (a posted
        one is "on")."""
        value = options.get(option, cls._default(option))
        is_checkbox = isinstance(cls.base_fields[cls.field_name(option)], forms.BooleanField)
        return bool(value) if is_checkbox else value

    @classmethod
    def show_when(cls, option: str) -> str:
        """`used_when` as the form's script reads it: `engine=smtp smtp_requires_auth=on`."""
        conditions = [f"engine={cls.engine}"] + [
            f"{cls.field_name(other)}={'on' if wanted is True else wanted}"
            for other, wanted in cls.used_when.get(option, {}).items()
        ]
        return " ".join(conditions)

    @classmethod
    def rows(cls, form: forms.BaseForm) -> list[list[tuple[forms.BoundField, str]]]:
        """The fields of `form` (which holds this engine's) in the order shown, paired
        where `pairs` says, each with the condition under which it shows."""
        paired = {first: second for first, second in cls.pairs}
        seconds = set(paired.values())
        rows = []
        for option in cls.option_names():
            if option in seconds:
                continue
            row = [option] + ([paired[option]] if option in paired else [])
            rows.append([(form[cls.field_name(o)], cls.show_when(o)) for o in row])
        return rows

    @classmethod
    def summary(cls, options: Mapping[str, Any]) -> dict[str, str]:
        """`server`, a `detail` and `sign_in` in a few words, for lists."""
        raise NotImplementedError("an engine's options must define summary()")

    @classmethod
    def complete(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """`options` with the form's defaults for the rest, only those that apply: as the
        form would store them."""
        everything = {
            option: options.get(option, cls._default(option))
            for option in cls.option_names()
            if not cls.is_secret(option)
        }
        return {k: v for k, v in everything.items() if cls.applies(k, everything)}

    @classmethod
    def _default(cls, option: str) -> Any:
        field = cls.base_fields[cls.field_name(option)]
        if field.initial is not None:
            return field.initial
        return False if isinstance(field, forms.BooleanField) else ""

    @classmethod
    def initial(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """Stored options as the form's initial values."""
        return {cls.field_name(k): v for k, v in options.items() if not cls.is_secret(k)}

    @classmethod
    def problems(
        cls, options: Mapping[str, Any], secrets: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        """Stored options and secrets (a document, not a form) checked by this engine's
        fields, each problem with its path: unknown names, wrong values, missing ones."""
        found = []
        for group, values, secret in (("options", options, False), ("secrets", secrets, True)):
            for option in values:
                if option not in cls.option_names() or cls.is_secret(option) != secret:
                    found.append((f"{group}.{option}", f"{cls.engine} has no such {group[:-1]}."))
                elif not cls.applies(option, options):  # stored, it would be kept unseen
                    found.append((f"{group}.{option}", "not used with these options."))
        for option in cls.option_names():
            if cls.is_secret(option) or not cls.applies(option, options):
                continue
            found += [
                (f"options.{option}", message) for message in cls._value_problems(option, options)
            ]
        return found

    @classmethod
    def _value_problems(cls, option: str, options: Mapping[str, Any]) -> list[str]:
        """What the option's field says of its value; a value it would change (the string
        "false" for false) is refused too, as it is stored as given."""
        try:
            value = cls.base_fields[cls.field_name(option)].clean(options.get(option))
        except ValidationError as error:
            return error.messages
        given = options.get(option, value)
        if type(given) is not type(value) or given != value:
            return [f"Give this option as {json.dumps(value)}."]
        return []

    def secret_after_save(self, option: str) -> bool:
        """Whether a secret will be stored once the form is saved (typed or kept)."""
        value = self.cleaned_data.get(self.field_name(option), KEEP_STORED_SECRET)
        if value is KEEP_STORED_SECRET:
            return option in self.stored
        return value is not CLEAR_STORED_SECRET

    def kept(self, option: str) -> bool:
        """Whether the stored secret is kept as it is (nothing typed, nothing cleared)."""
        value = self.cleaned_data.get(self.field_name(option))
        return value is KEEP_STORED_SECRET and option in self.stored

    # What is stored (a valid form) ---------------------------------------------

    def options(self) -> dict[str, Any]:
        return self.complete(
            {
                option: self.cleaned_data[name]
                for option in self.option_names()
                if not self.is_secret(option)
                and (name := self.field_name(option)) in self.cleaned_data
            }
        )

    def secrets(self) -> dict[str, str | Secret]:
        """The secrets to store: typed ones as plaintext (encrypted on assignment), kept
        ones as they are; cleared ones and those that no longer apply are left out."""
        options = self.options()
        secrets: dict[str, str | Secret] = {}
        for option, _ in self.secret_fields():
            value = self.cleaned_data.get(self.field_name(option))
            if not self.applies(option, options) or value is CLEAR_STORED_SECRET:
                continue
            if value is KEEP_STORED_SECRET:
                if option in self.stored:
                    secrets[option] = self.stored[option]
            elif value:
                secrets[option] = value
        return secrets

    # Where a secret goes ------------------------------------------------------

    @classmethod
    def destination_changes(
        cls,
        secret: str,
        before: tuple[Mapping[str, Any], str],
        after: tuple[Mapping[str, Any], str],
    ) -> list[str]:
        """What differs, in words, between where `secret` went (options and trusted CAs
        `before`) and where it would go `after`: host names without regard to case,
        certificates without regard to whitespace. Nothing: the same server."""
        (old, old_ca), (new, new_ca) = before, after
        changes = [
            in_sentence(cls.label(option))
            for option in cls.secret_destinations.get(secret, ())
            if cls.destination_part(option, old.get(option))
            != cls.destination_part(option, new.get(option))
        ]
        if " ".join(old_ca.split()) != " ".join(new_ca.split()):
            changes.append("trusted CA certificates")
        return changes

    @classmethod
    def destination_part(cls, option: str, value: Any) -> str:
        return str(value if value is not None else "").lower()


def in_sentence(label: str) -> str:
    """A field's label inside a sentence: "Server host or IP" -> "server host or IP", a
    name such as "SendGrid API key" as it is."""
    first, *rest = label.split(" ", 1)
    word = first if any(c.isupper() for c in first[1:]) else first.lower()
    return " ".join([word, *rest])
