"""Writes of the portal app. ``audit_record`` is the one way to write an audit event."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from portal.models import AuditEvent


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "pk"):
        return str(value.pk)
    return value


def audit_record(*, actor, action, obj, partner=None, customer=None, before=None, after=None, request_id=""):
    """Append an audit event: who (``actor``, may be None for the system), acting for which
    partner, did ``action`` to ``obj``, changing it from ``before`` to ``after``.

    Call it inside the same transaction as the change, so neither exists without the other.
    """
    actor_label = ""
    if actor is not None:
        actor_label = getattr(actor, "email", "") or getattr(actor, "username", "")
    if customer is None:
        customer = getattr(obj, "customer", None)
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_label=actor_label or "system",
        partner=partner,
        customer=customer,
        action=action,
        object_type=obj._meta.label,
        object_id=str(obj.pk),
        object_repr=str(obj)[:300],
        before=_jsonable(before),
        after=_jsonable(after),
        request_id=request_id or "",
    )
