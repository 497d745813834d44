"""The user's own preferences (issue 12): the "Preferences" page (language and time zone) and
the language switcher of the user menu. Both save ``portal.UserPreference`` through
``portal.preferences.user_preference_save``; a user only ever changes their own.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from portal import preferences

PREFERENCES_SAVED_MESSAGE = _("Preferences saved.")


class LenientChoiceField(forms.ChoiceField):
    """A choice whose unknown value is not an error: ``clean_<field>`` maps it to a fallback
    (an unknown language is English, an unknown zone the partner's default)."""

    def validate(self, value):
        pass


class PreferenceForm(forms.Form):
    language = LenientChoiceField(label=_("Language"), required=False)
    time_zone = LenientChoiceField(label=_("Time zone"), required=False)

    def __init__(self, *args, default_time_zone, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("The browser's language"))] + list(settings.LANGUAGES)
        self.fields["time_zone"].choices = [
            ("", _("The partner's default (%(zone)s)") % {"zone": default_time_zone})
        ] + [(name, name) for name in preferences.time_zone_names()]

    def clean_language(self):
        code = self.cleaned_data["language"]
        return (preferences.valid_language(code) or preferences.DEFAULT_LANGUAGE) if code else ""

    def clean_time_zone(self):
        return preferences.valid_time_zone(self.cleaned_data["time_zone"])


def _set_language_cookie(response, language):
    """The cookie ``LocaleMiddleware`` reads, so the login page keeps the language too."""
    if language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME, path=settings.LANGUAGE_COOKIE_PATH)


@login_required
@require_http_methods(["GET", "POST"])
def preferences_edit(request):
    """GET shows the user's language and time zone; POST saves them and comes back here,
    in the language just chosen."""
    preference = preferences.preference_of(request.user)
    default_zone = preferences.default_time_zone(request.partner)
    if request.method == "POST":
        form = PreferenceForm(request.POST, default_time_zone=default_zone)
        if form.is_valid():
            preference = preferences.user_preference_save(user=request.user, **form.cleaned_data)
            language = preference.language or translation.get_language_from_request(request)
            with translation.override(language):
                messages.success(request, str(PREFERENCES_SAVED_MESSAGE))
            response = redirect("portal:preferences")
            _set_language_cookie(response, preference.language)
            return response
    else:
        initial = {"language": preference.language, "time_zone": preference.time_zone} if preference else {}
        form = PreferenceForm(initial=initial, default_time_zone=default_zone)
    context = {"form": form, "default_time_zone": default_zone, "now": timezone.now()}
    return render(request, "portal/preferences.html", context)


@login_required
@require_POST
def language_set(request):
    """The user menu's switcher: saves the chosen language (an unknown code is English) and
    goes back to the page it was chosen on (``next``, when it is this site's)."""
    preference = preferences.user_preference_save(user=request.user, language=request.POST.get("language", ""))
    next_url = request.POST.get("next", "")
    # An address on this site, never a view name: redirect() would reverse "evil" (a 500).
    if not next_url.startswith("/") or not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("dashboard:home")
    response = HttpResponseRedirect(next_url)
    _set_language_cookie(response, preference.language)
    return response
