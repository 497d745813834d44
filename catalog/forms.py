"""Forms of the catalog app: the staff's price-list upload."""

from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.pricelist import MAX_IMPORT_BYTES, decode

FILE_TOO_LARGE = _("The file is larger than 5 MB. Split it and import the parts one after the other.")


class PriceListUploadForm(forms.Form):
    """Step one of the import: a CSV file, read as UTF-8 text (``cleaned_data["text"]``)."""

    file = forms.FileField(
        label=_("Price-list CSV file"),
        help_text=_("UTF-8 CSV with Partner Center's column names; the header is line 1. Extra columns are ignored."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(FILE_TOO_LARGE)
        try:
            self.cleaned_data["text"] = decode(upload.read())
        except ValueError as exc:
            raise forms.ValidationError(exc.args[0]) from None
        return upload


class PriceListConfirmForm(forms.Form):
    """Step two: applies the file previewed, named by its digest so that a second preview in
    another tab cannot be confirmed in place of the one on screen."""

    digest = forms.CharField(widget=forms.HiddenInput, max_length=64)
