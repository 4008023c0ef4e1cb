"""Form fields shared by several forms."""

from __future__ import annotations

from django import forms

from emailconfig.validators import validate_address


class AddressField(forms.EmailField):
    """An address as Stagemail sends to it: the composer's own rule (validators.wire_address),
    so a form never accepts what delivery would refuse."""

    default_validators = [validate_address]
