"""Brute-force protection of the sign-in pages (issue 11, item 6), with django-axes.

Rules enforced here, for ``/accounts/login/`` and ``/admin/login/`` alike (both sign in through
``django.contrib.auth.authenticate`` with the request):

- ``AXES_FAILURE_LIMIT`` wrong passwords for one username, or from one client address, lock
  that username or that address out for ``AXES_COOLOFF_TIME``; while locked out even the right
  password is refused, and each further try restarts the wait (settings, "Login lock-out");
- the locked-out visitor gets the lock-out page: 429, ``Retry-After``, a message saying how long
  to wait and that the operator's staff can unlock the account sooner;
- the operator's staff unlock by deleting the username's or address's rows under
  *Axes › Access attempts* in Django admin.

The client address is ``client_ip(request)``, which the API throttles (``portal.throttles``)
share: the connection's address, or the one ``TRUSTED_PROXY_COUNT`` proxies vouch for.
"""

import math

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.conf import settings
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

LOCKED_OUT_MESSAGE = _(
    "Too many failed sign-in attempts for this account or from this network. Sign-in is locked "
    "for %(minutes)s minutes; each new attempt restarts the wait. If you cannot wait, ask the "
    "operator's staff to unlock it."
)


def client_ip(request):
    """The client's address: ``REMOTE_ADDR``, or behind ``TRUSTED_PROXY_COUNT`` proxies that
    each append to ``X-Forwarded-For``, the address the outermost trusted proxy saw. Addresses
    further left are the client's own claims and are never trusted."""
    remote_addr = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote_addr
    addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
    if not addresses:
        return remote_addr
    return addresses[-min(proxies, len(addresses))]


class LoginLockoutBackend(AxesStandaloneBackend):
    """django-axes' check before the password backends: a locked-out username or address is
    refused. ``authenticate`` without a request (the shell, the test client's ``login()``) has no
    address to count and comes from no network; it passes on to the password backend."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_response(request, original_response=None, credentials=None):
    """The lock-out page (``AXES_LOCKOUT_CALLABLE``): the portal's layout, the reason, 429."""
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    message = LOCKED_OUT_MESSAGE % {"minutes": max(1, math.ceil(seconds / 60))}
    response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
