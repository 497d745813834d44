"""API throttling (SPEC §10, issue 11 item 6): django-ninja's rate throttles, keyed the portal's way.

Three rates, from ``settings.API_THROTTLE_RATES`` (read on each call, so a deploy or a test can
change them):

- ``token``: calls made with one API token (checked after the token is known);
- ``address``: calls from one client address, whatever their token (checked before the token is
  read, so a flood costs no token look-up);
- ``auth_failure``: calls from one address whose token was missing, unknown or revoked. Past it,
  every call from that address is refused until the window has passed, even one with a good
  token: otherwise guessing tokens would only cost the attacker a 401 each.

Over a rate the API answers 429 with Partner Center's error body and ``Retry-After`` (seconds).
The counts live in the default cache: in production the database cache, shared by every web
process (``manage.py createcachetable``). The client address is ``portal.security.client_ip``,
the same the sign-in lock-out counts.
"""

from django.conf import settings
from ninja.throttling import SimpleRateThrottle

from portal.security import client_ip


class _PortalRateThrottle(SimpleRateThrottle):
    scope = None

    def __init__(self):
        # SimpleRateThrottle parses its rate once; the portal's is read per call (see allow_request).
        self.rate = None
        self.num_requests = self.duration = None

    def get_rate(self):
        return settings.API_THROTTLE_RATES[self.scope]

    def get_ident(self, request):
        return client_ip(request)

    def allow_request(self, request):
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request)


class TokenRateThrottle(_PortalRateThrottle):
    """Calls per API token (the token's row id: the secret never reaches the cache)."""

    scope = "token"

    def get_cache_key(self, request):
        token = getattr(request, "auth", None)
        if token is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": token.pk}


class AddressRateThrottle(_PortalRateThrottle):
    """Calls per client address."""

    scope = "address"

    def get_cache_key(self, request):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AuthFailureThrottle(_PortalRateThrottle):
    """Failed token authentications per client address: ``exceeded`` says whether the address is
    over its rate (without counting), ``record`` counts one failure."""

    scope = "auth_failure"

    def get_cache_key(self, request):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def exceeded(self, request):
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.key = self.get_cache_key(request)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        return len(self.history) >= self.num_requests

    def record(self, request):
        if not self.exceeded(request):
            self.throttle_success()

    def wait(self):
        # Until the oldest failure in the window leaves it.
        if not self.history:
            return self.duration
        return max(1.0, self.duration - (self.now - self.history[-1]))
