"""Cart services: create, update (replace the lines) and validate (SPEC §4).

Who may call: a member allowed to BUY (``portal.permissions.can``), checked by the view or
the API. The services still refuse a partner that does not transact (indirect reseller),
a customer the partner has no commerce relationship with, and a reseller that is not an
indirect reseller linked to the provider.

Bad requests raise ``CartInputError`` before anything is written. A line that cannot be
bought is kept with Partner Center's line error (``error_code``/``error_description``):
the cart is still created, and checkout refuses it until the line is fixed or removed.
"""

import datetime
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from functools import reduce
from operator import or_

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import Availability, BillingCycle, TermDuration
from catalog.selectors import addons_missing_prerequisite
from portal.errors import RESELLER_NOT_LINKED, ErrorCode
from portal.models import CustomerRelationship, PartnerKind
from portal.services import audit_record
from portal.text import control_character, in_english
from subscriptions import errors
from subscriptions.errors import CartInputError
from subscriptions.models import Cart, CartLine, CartStatus, Subscription, SubscriptionStatus
from subscriptions.selectors import allowed_end_date_set

CATALOG_ITEM_ID = re.compile(r"^([A-Z0-9]{12}):([0-9A-Z]{4}):([A-Z0-9]{1,12})$")
# Billing cycles a cart line may ask for ("none" is for trials, which this portal does not sell).
LINE_BILLING_CYCLES = {BillingCycle.MONTHLY, BillingCycle.ANNUAL, BillingCycle.TRIENNIAL}


@dataclass(frozen=True)
class LineInput:
    catalog_item_id: str  # "productId:skuId:availabilityId"
    quantity: int
    term_duration: str  # "P1M" | "P1Y" | "P3Y"
    billing_cycle: str  # "monthly" | "annual" | "triennial"
    custom_term_end_date: date | None = None
    friendly_name: str = ""


# --- request-level checks (raise before writing) ---------------------------------------------


def ensure_partner_transacts(partner):
    """Indirect resellers look but do not buy: their provider transacts for them (403)."""
    if not partner.transacts:
        raise CartInputError(ErrorCode.NOT_PERMITTED, errors.RESELLER_CANNOT_TRANSACT, status=403)


def ensure_cart_active(cart, *, now=None):
    """An ordered or expired cart cannot change or be checked out again (800008)."""
    now = now or timezone.now()
    if cart.status != CartStatus.ACTIVE:
        raise CartInputError(ErrorCode.CART_NOT_ACTIVE, errors.CART_ORDERED, params={"id": cart.pk})
    if cart.expires_at <= now:
        raise CartInputError(
            ErrorCode.CART_NOT_ACTIVE, errors.CART_EXPIRED, params={"id": cart.pk, "when": cart.expires_at.isoformat()}
        )


def _relationship(partner, customer):
    """The transacting relationship; without it the partner cannot sell to the customer (20002)."""
    relationship = (
        CustomerRelationship.objects.owned_by(partner).filter(customer=customer).select_related("reseller").first()
    )
    if relationship is None:
        raise CartInputError(ErrorCode.NO_RELATIONSHIP, errors.NO_COMMERCE_RELATIONSHIP, status=403)
    return relationship


def _resolve_reseller(partner, relationship, reseller):
    """The transaction reseller: the one named, else the relationship's reseller of record.
    Only an indirect provider names one, and it must be an indirect reseller linked to it (800016)."""
    if reseller is None:
        return relationship.reseller if partner.is_indirect_provider else None
    if not partner.is_indirect_provider:
        raise CartInputError(ErrorCode.INVALID_RESELLER, errors.RESELLER_NOT_ALLOWED)
    if reseller.kind != PartnerKind.INDIRECT_RESELLER or not reseller.providers.filter(pk=partner.pk).exists():
        raise CartInputError(ErrorCode.INVALID_RESELLER, RESELLER_NOT_LINKED, params={"mpn": reseller.mpn_id})
    return reseller


def _parse_lines(lines):
    """Checks the shape of every line; returns the (product, sku, availability) id triples."""
    if not lines:
        raise CartInputError(ErrorCode.INVALID_INPUT, errors.NO_LINES)
    triples = []
    for n, line in enumerate(lines):
        match = CATALOG_ITEM_ID.match(str(line.catalog_item_id or "").strip())
        if not match:
            raise CartInputError(ErrorCode.INVALID_INPUT, errors.MALFORMED_CATALOG_ITEM, params={"id": line.catalog_item_id})
        quantity = line.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= errors.MAX_LINE_QUANTITY:
            raise CartInputError(ErrorCode.INVALID_INPUT, errors.INVALID_QUANTITY, params={"n": n})
        if line.term_duration not in TermDuration.values:
            raise CartInputError(ErrorCode.INVALID_INPUT, errors.INVALID_TERM, params={"term": line.term_duration})
        if line.billing_cycle not in LINE_BILLING_CYCLES:
            raise CartInputError(ErrorCode.INVALID_INPUT, errors.INVALID_BILLING_CYCLE, params={"cycle": line.billing_cycle})
        if line.custom_term_end_date is not None and not isinstance(line.custom_term_end_date, date):
            raise CartInputError(ErrorCode.INVALID_INPUT, errors.INVALID_INPUT_DATE)
        if len(line.friendly_name or "") > errors.FRIENDLY_NAME_MAX_LENGTH:
            raise CartInputError(
                ErrorCode.INVALID_INPUT, errors.FRIENDLY_NAME_TOO_LONG, params={"n": n, "max": errors.FRIENDLY_NAME_MAX_LENGTH}
            )
        character = control_character(line.friendly_name or "")
        if character:
            raise CartInputError(
                ErrorCode.INVALID_INPUT, errors.FRIENDLY_NAME_CONTROL_CHARACTER, params={"n": n, "character": character}
            )
        triples.append(match.groups())
    return triples


def resolve_availabilities(lines):
    """{catalog item id: Availability} for every line, in one query (SKU and product joined);
    an unknown catalog item raises 800004."""
    triples = _parse_lines(lines)
    condition = reduce(
        or_, (Q(sku__product_id=p, sku__sku_id=s, availability_id=a) for p, s, a in set(triples))
    )
    found = {a.catalog_item_id: a for a in Availability.objects.filter(condition).select_related("sku__product")}
    for p, s, a in triples:
        if f"{p}:{s}:{a}" not in found:
            raise CartInputError(ErrorCode.INVALID_OFFER, errors.CATALOG_ITEM_NOT_FOUND, params={"id": f"{p}:{s}:{a}"})
    return found


def _write_lines(cart, lines, availabilities):
    CartLine.objects.bulk_create(
        [
            CartLine(
                cart=cart,
                line_number=n,
                availability=availabilities[line.catalog_item_id.strip()],
                quantity=line.quantity,
                term_duration=line.term_duration,
                billing_cycle=line.billing_cycle,
                custom_term_end_date=line.custom_term_end_date,
                friendly_name=line.friendly_name or "",
            )
            for n, line in enumerate(lines)
        ]
    )


def line_input_from(line):
    """The ``LineInput`` of an existing cart line (to rebuild a cart's lines)."""
    return LineInput(
        catalog_item_id=line.availability.catalog_item_id,
        quantity=line.quantity,
        term_duration=line.term_duration,
        billing_cycle=line.billing_cycle,
        custom_term_end_date=line.custom_term_end_date,
        friendly_name=line.friendly_name,
    )


# --- services -----------------------------------------------------------------------------------


def cart_create(*, partner, customer, acting_user, lines: list[LineInput], reseller=None, request_id="") -> Cart:
    """Create an Active cart of ``partner`` for ``customer`` expiring after
    ``PORTAL_CART_LIFETIME_DAYS`` days, with ``lines`` (line numbers 0, 1, …) validated.

    Raises ``CartInputError`` without writing: 403 the partner does not transact; 20002 no
    relationship with the customer; 800016 invalid reseller; 800002 malformed line; 800004
    unknown catalog item. An indirect provider's cart names the reseller of record of the
    relationship unless ``reseller`` is given."""
    ensure_partner_transacts(partner)
    relationship = _relationship(partner, customer)
    reseller = _resolve_reseller(partner, relationship, reseller)
    availabilities = resolve_availabilities(lines)
    now = timezone.now()
    with transaction.atomic():
        cart = Cart.objects.create(
            partner=partner,
            customer=customer,
            reseller=reseller,
            created_by=acting_user if getattr(acting_user, "pk", None) else None,
            expires_at=now + datetime.timedelta(days=settings.PORTAL_CART_LIFETIME_DAYS),
        )
        _write_lines(cart, lines, availabilities)
        cart_validate(cart=cart)
        audit_record(
            actor=acting_user, action="cart.create", obj=cart, partner=partner, customer=customer,
            after={"lines": len(lines), "reseller": reseller}, request_id=request_id,
        )
    return cart


def cart_update(*, cart, acting_user, lines: list[LineInput], request_id="") -> Cart:
    """Replace the lines of an Active, unexpired cart and validate them. The cart row is
    locked so an update cannot slip in while the same cart is being checked out.
    Raises ``CartInputError`` (800008 ordered/expired, 800002, 800004) without writing."""
    availabilities = resolve_availabilities(lines)
    with transaction.atomic():
        locked = Cart.objects.select_for_update(of=("self",)).select_related("partner", "customer").get(pk=cart.pk)
        ensure_partner_transacts(locked.partner)
        ensure_cart_active(locked)
        before = locked.lines.count()
        locked.lines.all().delete()
        _write_lines(locked, lines, availabilities)
        locked.save(update_fields=["updated_at"])
        cart_validate(cart=locked)
        audit_record(
            actor=acting_user, action="cart.update", obj=locked, partner=locked.partner, customer=locked.customer,
            before={"lines": before}, after={"lines": len(lines)}, request_id=request_id,
        )
    return locked


def cart_validate(*, cart) -> None:
    """(Re)compute every line's error and save the ones that changed.

    At most five queries whatever the number of lines or tenant licenses: the lines with
    availability, SKU and product; the add-ons' prerequisites; the tenant's active SKUs; the
    customer's live subscriptions (only when a SKU has a per-customer limit, a line has a
    custom end date, or the partner is a sandbox); one bulk update. A sandbox partner adds one
    count of its customers."""
    lines = list(cart.lines.select_related("availability__sku__product").order_by("line_number"))
    found = line_errors(cart=cart, lines=lines)
    changed = []
    for line in lines:
        code, description = found.get(line.pk, (None, ""))
        if line.error_code != code or line.error_description != description:
            line.error_code, line.error_description = code, description
            changed.append(line)
    if changed:
        CartLine.objects.bulk_update(changed, ["error_code", "error_description"])


# Line errors are stored, and returned by the API, as they are made: in English whatever the
# request's language; pages translate them when they show them (``CartLine.error_text``).
@in_english
def line_errors(*, cart, lines, today=None):
    """{line pk: (code, description)} for the lines that cannot be bought today, checked in
    this order: not purchasable (800020), term/billing cycle (400039), seats per subscription
    (10015), sandbox licenses (800018), add-on prerequisite in the tenant (400041), custom
    term end date (10017), per-customer limit (800089), sandbox subscriptions/customers (800018).
    Earlier valid lines of the same cart count towards the limits."""
    today = today or timezone.localdate()
    partner, customer = cart.partner, cart.customer
    skus = {line.availability.sku_id: line.availability.sku for line in lines}
    missing = addons_missing_prerequisite(skus=list(skus.values()), customer=customer)

    needs_subscriptions = (
        partner.is_sandbox
        or any(sku.max_per_customer is not None for sku in skus.values())
        or any(line.custom_term_end_date for line in lines)
    )
    live = _live_subscriptions(customer) if needs_subscriptions else []
    held = Counter()
    for sub in live:
        held[sub["sku_id"]] += sub["quantity"]
    own_subscriptions = sum(1 for sub in live if sub["partner_id"] == partner.pk)
    coterm = [s for s in live if s["partner_id"] == partner.pk and s["status"] == SubscriptionStatus.ACTIVE]
    over_customer_limit = partner.is_sandbox and (
        CustomerRelationship.objects.owned_by(partner).count() > errors.SANDBOX_MAX_CUSTOMERS
    )

    allowed_dates = {}
    found = {}
    for line in lines:
        sku = skus[line.availability.sku_id]
        error = _line_error(line, sku, missing, partner)
        if error is None and line.custom_term_end_date:
            if line.term_duration not in allowed_dates:
                allowed_dates[line.term_duration] = allowed_end_date_set(
                    customer=customer, partner=partner, term_duration=line.term_duration, start_date=today,
                    candidates=coterm,
                )
            error = _end_date_error(line, allowed_dates[line.term_duration])
        if error is None:
            error = _limit_error(line, sku, held[sku.pk], partner, own_subscriptions, over_customer_limit)
        if error is None:
            # This line will be bought: later lines see its seats and its subscription.
            held[sku.pk] += line.quantity
            own_subscriptions += 1
        else:
            found[line.pk] = (error[0], str(error[1]))
    return found


def _live_subscriptions(customer):
    return list(
        Subscription.objects.filter(customer=customer)
        .live()
        .values("id", "sku_id", "partner_id", "quantity", "status", "term_duration", "commitment_end_date")
    )


def _end_date_error(line, allowed):
    if line.custom_term_end_date not in allowed:
        return (
            ErrorCode.INVALID_CUSTOM_TERM_END_DATE,
            errors.CUSTOM_TERM_END_DATE_INVALID % {"date": line.custom_term_end_date.isoformat(),
                                                   "term": line.term_duration},
        )
    return None


def _limit_error(line, sku, held, partner, own_subscriptions, over_customer_limit):
    """The per-customer seat limit (800089), then the sandbox limits (800018)."""
    if sku.max_per_customer is not None:
        remaining = max(0, sku.max_per_customer - held)
        if line.quantity > remaining:
            return (
                ErrorCode.PER_CUSTOMER_LIMIT,
                errors.PER_CUSTOMER_LIMIT_MESSAGE % {"quantity": line.quantity, "remaining": remaining},
            )
    if partner.is_sandbox:
        if over_customer_limit:
            return (ErrorCode.SANDBOX_LIMIT, errors.SANDBOX_CUSTOMERS % {"limit": errors.SANDBOX_MAX_CUSTOMERS})
        if own_subscriptions + 1 > errors.SANDBOX_MAX_SUBSCRIPTIONS_PER_CUSTOMER:
            return (
                ErrorCode.SANDBOX_LIMIT,
                errors.SANDBOX_SUBSCRIPTIONS % {"limit": errors.SANDBOX_MAX_SUBSCRIPTIONS_PER_CUSTOMER},
            )
    return None


def _line_error(line, sku, missing, partner):
    """The checks that need nothing but the line, its SKU and the tenant's prerequisites."""
    availability = line.availability
    n = line.line_number
    if not availability.is_purchasable:
        return ErrorCode.NOT_PURCHASABLE, errors.NOT_PURCHASABLE_MESSAGE % {"id": availability.catalog_item_id}
    if not availability.supports(line.term_duration, line.billing_cycle):
        if any(t.get("termDuration") == line.term_duration for t in availability.terms):
            message = errors.BILLING_CYCLE_NOT_SUPPORTED_MESSAGE % {
                "id": availability.availability_id, "n": n, "term": line.term_duration, "cycle": line.billing_cycle,
            }
        else:
            message = errors.TERM_NOT_SUPPORTED_MESSAGE % {
                "id": availability.availability_id, "n": n, "term": line.term_duration,
            }
        return ErrorCode.TERM_NOT_SUPPORTED, message
    if line.quantity > sku.max_quantity:
        return ErrorCode.SEATS_OUT_OF_RANGE, errors.SEATS_OVER_MAXIMUM % {
            "quantity": line.quantity, "max": sku.max_quantity, "sku": sku.code,
        }
    if line.quantity < sku.min_quantity:
        return ErrorCode.SEATS_OUT_OF_RANGE, errors.SEATS_UNDER_MINIMUM % {
            "quantity": line.quantity, "min": sku.min_quantity, "sku": sku.code,
        }
    if partner.is_sandbox and line.quantity > errors.SANDBOX_MAX_LICENSES_PER_SUBSCRIPTION:
        return ErrorCode.SANDBOX_LIMIT, errors.SANDBOX_LICENSES % {"limit": errors.SANDBOX_MAX_LICENSES_PER_SUBSCRIPTION}
    if sku.pk in missing:
        return ErrorCode.ADDON_PREREQUISITE_MISSING, errors.ADDON_NOT_PURCHASABLE
    return None
