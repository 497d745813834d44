"""The user's API tokens page (SPEC §10, §11): list, create (the secret is shown once, on the
page that answers the creation), revoke. A user sees and revokes only its own tokens;
another user's token id is 404.
"""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_http_methods

from portal.htmx import REFUSED
from portal.models import ApiToken
from portal.tokens import NAME_MAX_LENGTH, TokenError, api_token_create, api_token_revoke
from portal.views import partner_required

TOKEN_REVOKED_MESSAGE = _("Token “%(name)s” revoked. Calls made with it are now refused.")


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=NAME_MAX_LENGTH,
        help_text=_("What the token is for, e.g. “billing export script”."),
    )


def _render(request, form, secret=None, new_token=None, status=200):
    tokens = ApiToken.objects.for_user(request.user)
    context = {"tokens": tokens, "form": form, "secret": secret, "new_token": new_token}
    return render(request, "portal/token_list.html", context, status=status)


@never_cache
@partner_required
@require_http_methods(["GET", "POST"])
def token_list(request):
    """GET lists the user's tokens; POST creates one and shows its secret this once (the
    answer is rendered, not redirected, so the secret is never stored to be shown later; and
    ``no-store``, so no browser or proxy cache keeps it either)."""
    if request.method == "GET":
        return _render(request, ApiTokenForm())
    form = ApiTokenForm(request.POST)
    if not form.is_valid():
        return _render(request, form, status=REFUSED)
    try:
        token, secret = api_token_create(
            user=request.user, name=form.cleaned_data["name"], request_id=request.request_id
        )
    except TokenError as exc:
        form.add_error(None, str(exc))
        return _render(request, form, status=REFUSED)
    return _render(request, ApiTokenForm(), secret=secret, new_token=token)


@partner_required
@require_POST
def token_revoke(request, pk):
    token = get_object_or_404(ApiToken.objects.for_user(request.user), pk=pk)
    try:
        api_token_revoke(token=token, acting_user=request.user, request_id=request.request_id)
    except TokenError as exc:
        messages.warning(request, str(exc))
    else:
        messages.success(request, TOKEN_REVOKED_MESSAGE % {"name": token.name})
    return redirect("portal:token_list")
