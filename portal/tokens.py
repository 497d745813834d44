"""API tokens: create, revoke, authenticate (SPEC §10).

A token acts as its user, with that user's partner and roles. The secret is made of
``TOKEN_PREFIX`` and 32 random bytes (URL-safe); only its SHA-256 is stored, so the secret is
shown once, by whoever called ``api_token_create``, and can never be shown again.
"""

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.errors import PortalError
from portal.models import ApiToken, Membership
from portal.services import audit_record

# Recognisable in logs and by secret scanners.
TOKEN_PREFIX = "pp_"
DEFAULT_TOKEN_NAME = _("API token")

NO_MEMBERSHIP_ERROR = _("This user is not a member of any partner organisation, so a token could not act for one.")
ALREADY_REVOKED_ERROR = _("This token is already revoked.")
NAME_TOO_LONG_ERROR = _("The token name can be at most %(max)s characters.")
NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length


class TokenError(PortalError):
    """A token could not be created or revoked; the message says why, for the user."""

    def __init__(self, description, **kwargs):
        super().__init__(description=description, **kwargs)


def hash_secret(secret):
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def api_token_create(*, user, name="", request_id=""):
    """Issue a token for ``user`` and return ``(token, secret)``. Only a member of a partner
    gets one (a token acts for the user's partner). The caller shows the secret once."""
    membership = Membership.objects.select_related("partner").filter(user=user).first()
    if membership is None:
        raise TokenError(NO_MEMBERSHIP_ERROR)
    name = (name or "").strip()
    if len(name) > NAME_MAX_LENGTH:
        raise TokenError(NAME_TOO_LONG_ERROR, params={"max": NAME_MAX_LENGTH})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name or str(DEFAULT_TOKEN_NAME),
            prefix=secret[:8],
            key_hash=hash_secret(secret),
        )
        audit_record(
            actor=user,
            action="api_token.create",
            obj=token,
            partner=membership.partner,
            after={"name": token.name, "prefix": token.prefix},
            request_id=request_id,
        )
    return token, secret


def api_token_revoke(*, token, acting_user, request_id=""):
    """Revoke ``token`` for good. The caller has already scoped it (a user revokes only its
    own tokens); revoking twice is refused so the first revocation time stays the truth."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            raise TokenError(ALREADY_REVOKED_ERROR)
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        membership = Membership.objects.select_related("partner").filter(user=token.user_id).first()
        audit_record(
            actor=acting_user,
            action="api_token.revoke",
            obj=token,
            partner=membership.partner if membership else None,
            before={"revoked_at": None},
            after={"revoked_at": token.revoked_at},
            request_id=request_id,
        )
    return token


def api_token_authenticate(secret):
    """The active token whose secret is ``secret``, with its user, membership and partner
    loaded; None for an unknown or revoked token or an inactive user. Records the use."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = (
        ApiToken.objects.active()
        .select_related("user", "user__membership", "user__membership__partner")
        .filter(key_hash=hash_secret(secret), user__is_active=True)
        .first()
    )
    if token is None:
        return None
    token.last_used_at = timezone.now()
    # An UPDATE of one column, not save(): a revocation racing this request must not be undone.
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=token.last_used_at)
    return token
