"""The upload of a CodeStream config file: the file, and the stage it is for."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from emailconfig.access import Access
from emailconfig.models import Stage

# A generated CodeStream config is a few kilobytes. The JSON5 reader is pure Python: the
# worst input of 64 KB costs it about 3 s of CPU (512 KB, about 20).
MAX_FILE_BYTES = 64 * 1024


class CodeStreamUploadForm(forms.Form):
    file = forms.FileField(
        label="CodeStream config file",
        help_text="codestream-services-config.json; comments and trailing commas are fine. "
        "Only its email settings are read.",
    )
    stage = forms.ModelChoiceField(queryset=Stage.objects.none(), empty_label="Choose a stage…")
    name = forms.CharField(
        required=False, max_length=120, help_text="Blank: CodeStream (the stage's name)."
    )

    def __init__(self, *args: Any, access: Access, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = access.editable_stages()

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise ValidationError(
                f"This file is {upload.size:,} bytes; a CodeStream config file is far smaller "
                f"(at most {MAX_FILE_BYTES:,} are read).",
                code="too_big",
            )
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError("This file is not UTF-8 text.", code="not_text") from None
