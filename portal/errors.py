"""The portal's one error type (issue 14): a refusal with Partner Center's code, a description
the user reads, the HTTP status the API answers with, and its target (PC's error ``data``: the
fields or lines it is about).

Services raise ``PortalError`` (or an app's subclass of it); the API renders it with one
exception handler as Partner Center's error body ``{"code", "description", "data"}``, always in
English (``api_body``); a page shows the same error in the user's language with its code
(``error_message`` for a flash message, ``portal/_error.html`` inside a page).

Every code is defined once, in ``ErrorCode``; a text shared by two apps is defined once, here.
This module imports no app.
"""

from django.utils import translation
from django.utils.translation import gettext_lazy as _


class ErrorCode:
    """Partner Center's error codes (PARTNER-CENTER.md §4.4–4.6) and the portal's own where PC
    has none. One name per code: use these, never the number."""

    # Partner Center's request-level codes.
    INVALID_INPUT = 800002  # 400: invalid request input (also: a refused status transition)
    INVALID_OFFER = 800004  # 400: the catalog item does not exist
    CART_NOT_ACTIVE = 800008  # 400 (PC: unable to retrieve cart): ordered or expired
    CART_ITEM_ERRORS = 800009  # 400: checkout refused because line items carry errors
    INVALID_RESELLER = 800016  # 400: not an indirect reseller linked to the provider
    NO_RELATIONSHIP = 20002  # 403: no commerce relationship between partner and customer
    CANNOT_DECREASE = 800090  # 400: NCE quantity cannot be decreased
    QUANTITY_RANGE = 2002  # 400: quantity outside the offer's min/max
    DELETED = 2011  # 400: a deleted subscription cannot be updated
    SUBSCRIPTION_NOT_FOUND = 20003  # 404
    PRODUCT_NOT_FOUND = 400013  # 404
    SKU_NOT_FOUND = 400018  # 404
    SEGMENT_NOT_ALLOWED = 400030  # 400: a targetSegment outside the schema
    TARGET_VIEW_NOT_ALLOWED = 400036  # 400: a targetView outside the schema
    # The portal's own numbers (as the portal's 403/409 JSON answers).
    NOT_PERMITTED = 403  # 403: indirect resellers do not transact; overage not permitted
    IDEMPOTENCY_KEY_REUSED = 409  # 409: the idempotency key was used for another cart
    # The portal's own, where Partner Center has none (PARTNER-CENTER.md §4.6).
    UNAUTHORIZED = "Unauthorized"
    FORBIDDEN = "Forbidden"
    NOT_FOUND = "NotFound"
    CUSTOMER_NOT_FOUND = "CustomerNotFound"
    INTERNAL_ERROR = "InternalServerError"
    THROTTLED = "TooManyRequests"
    CONCURRENCY_CONFLICT = "ConcurrencyConflict"
    PRECONDITION_FAILED = "PreconditionFailed"
    OVERAGE_OWNED_BY_ANOTHER_PARTNER = "OverageOwnedByAnotherPartner"
    # Partner Center's line error codes (a cart line that cannot be bought).
    ADDON_PREREQUISITE_MISSING = 400041
    TERM_NOT_SUPPORTED = 400039
    SEATS_OUT_OF_RANGE = 10015
    PER_CUSTOMER_LIMIT = 800089
    INVALID_CUSTOM_TERM_END_DATE = 10017
    SANDBOX_LIMIT = 800018
    NOT_PURCHASABLE = 800020
    PRICE_NOT_AVAILABLE = 10006  # SDK UnableToProcessCartLineItem: no price row in force


# Texts more than one app refuses with (each defined once).
RESELLER_NOT_LINKED = _("%(mpn)s is not a valid indirect reseller of this indirect provider.")
# An upload previewed, then confirmed after the preview was dropped (price list, usage).
PREVIEW_EXPIRED = _("The preview has expired or was replaced by another upload. Upload the file again.")
WITH_CODE = _("%(description)s (%(code)s)")


class PortalError(Exception):
    """A refusal: Partner Center's ``code``, the ``description`` a person reads (a lazy
    translation, or already-formatted text; with ``params`` it is formatted when read, in the
    language then active), the HTTP ``status`` and the ``target`` (PC's error ``data``: a list
    of details such as ``{"field": …}`` or line errors). A subclass may fix ``code``/``status``."""

    code = ErrorCode.INVALID_INPUT
    status = 400

    def __init__(self, code=None, description="", status=None, data=None, *, params=None):
        self.code = self.code if code is None else code
        self.status = self.status if status is None else status
        self.text = description
        self.params = params
        self.data = list(data) if data else []
        super().__init__(description)

    @property
    def description(self):
        text = str(self.text)
        return text % self.params if self.params else text

    @property
    def target(self):
        return self.data

    def __str__(self):
        return self.description

    def __reduce__(self):
        # Subclasses take other arguments than ``args``: rebuild from the state, not a call.
        return _restore, (type(self), self.args, self.__dict__)

    def api_body(self):
        """Partner Center's error body, in English whatever the caller's language."""
        with translation.override("en"):
            return {"code": self.code, "description": self.description, "data": self.data}


def _restore(cls, args, state):
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


def error_message(error):
    """The error as a page shows it: its description in the active language, with its code."""
    return WITH_CODE % {"description": error.description, "code": error.code}
