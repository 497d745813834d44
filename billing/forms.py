"""Forms of the billing app: the usage CSV upload (page and admin) and its confirmation."""

from django import forms
from django.utils.translation import gettext_lazy as _

MAX_UPLOAD_BYTES = 1024 * 1024 * 1024
FILE_TOO_LARGE = _("The file is larger than 1 GB. Split it and import the parts one after the other.")


class UsageUploadForm(forms.Form):
    """Step one: a usage CSV. The file is only checked for size here; its rows are checked
    by the preview, streamed from where it was saved."""

    file = forms.FileField(
        label=_("Usage CSV file"),
        help_text=_("UTF-8 CSV; the header is line 1. Extra columns are ignored."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(FILE_TOO_LARGE)
        return upload


class UsageConfirmForm(forms.Form):
    """Step two: imports the file previewed, named by the token of its saved copy, so a
    second preview in another tab cannot be confirmed in place of the one on screen."""

    token = forms.RegexField(regex=r"^[0-9a-f]{32}$", max_length=32, widget=forms.HiddenInput)
