"""The one HTMX convention of the portal's flyouts and forms (issue 14 item 5).

- A refusal (a form that does not validate, a rule of a service that says no) answers
  ``REFUSED`` (422) with the form again and the reason inside it; a form another change
  overtook answers ``CONFLICT`` (409) the same way. ``base.html``'s ``htmx-config`` meta tag
  (``responseHandling``) lets htmx swap exactly these two; any other 4xx/5xx stays an error.
- An HTMX refusal from a flyout's form is retargeted into the flyout (``#flyout-body``) with
  django-htmx's ``retarget``/``reswap``, whatever the form's own target (a table row) was.
- Every flyout URL is also a plain page: a GET without HTMX renders the full page; a POST
  without HTMX redirects with ``see_other`` (303) on success, or renders the full page with
  the refusal.
- Events for the page (``overage-updated``, ``close-flyout``) go through
  ``trigger_client_event``; no view writes an ``HX-*`` header by hand.
"""

from django.http import HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django_htmx.http import reswap, retarget

REFUSED = 422
CONFLICT = 409
FORBIDDEN = 403
FLYOUT = "#flyout-body"


class HttpResponseSeeOther(HttpResponseRedirect):
    """After a POST, the browser GETs the next page (303 See Other)."""

    status_code = 303


def see_other(to, *args, **kwargs):
    """``redirect()`` with 303: where a plain form post goes once it succeeded."""
    return HttpResponseSeeOther(resolve_url(to, *args, **kwargs))


def refusal_status(status):
    """The page status of a service's refusal: 409 stays a conflict and 403 a refusal of who
    asks (as ``PermissionDenied``; pages show such actions disabled with the reason before);
    what was asked for (the API's 400) is a refused form, 422."""
    return status if status in (CONFLICT, FORBIDDEN) else REFUSED


def is_fragment_request(request):
    """An HTMX request that wants a fragment (boosted requests want the whole page)."""
    return bool(request.htmx) and not request.htmx.boosted


def render_flyout(request, template, context, *, partial="flyout", status=200):
    """One view, two renderings: the flyout's partial for HTMX, the full page otherwise.

    A refusal (``status`` 4xx) to HTMX is retargeted into the flyout, so the member reads the
    reason where they acted, next to the form they sent."""
    if not is_fragment_request(request):
        return render(request, template, context, status=status)
    response = render(request, f"{template}#{partial}", context, status=status)
    if status >= 400:
        reswap(retarget(response, FLYOUT), "innerHTML")
    return response
