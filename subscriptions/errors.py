"""Error messages of carts and checkout, as Partner Center returns them (their codes are
``portal.errors.ErrorCode``).

Two kinds of failure (SPEC §4, PARTNER-CENTER.md §4.4–4.6):

* request-level bad input raises ``CartInputError`` before anything is written (the API
  answers with ``status`` and ``{"code", "description", "data"}``);
* a line that cannot be bought is a *line error*: the cart is still created and the line
  carries ``error_code``/``error_description``.

Messages are module constants (translatable templates) so tests and the API import them.
"""

from django.utils.translation import gettext_lazy as _

from catalog.selectors import ADDON_NOT_PURCHASABLE  # the catalog owns the text (SPEC §3)
from portal.errors import PortalError
from portal.text import stored_text_in_language


class CartInputError(PortalError):
    """Request-level bad input: nothing was written. ``code`` is Partner Center's error
    code, ``status`` the HTTP status the API answers with."""


# --- Request-level messages (codes: portal.errors.ErrorCode, PARTNER-CENTER.md §4.6) ----------
MALFORMED_CATALOG_ITEM = _("Catalog item id '%(id)s' is malformed: expected productId:skuId:availabilityId.")
CATALOG_ITEM_NOT_FOUND = _("Catalog item %(id)s was not found.")
INVALID_QUANTITY = _("The quantity of line item %(n)s must be a whole number from 1 to 1,000,000,000.")
# Above any SKU's maximum (those get line error 10015) yet within a database integer.
MAX_LINE_QUANTITY = 1_000_000_000
INVALID_TERM = _("'%(term)s' is not a term duration. Use P1M, P1Y or P3Y.")
INVALID_BILLING_CYCLE = _("'%(cycle)s' is not a billing cycle. Use monthly, annual or triennial.")
NO_LINES = _("A cart needs at least one line item.")
CART_ORDERED = _("Cart %(id)s has already been checked out.")
CART_EXPIRED = _("Cart %(id)s expired on %(when)s. Create a new cart.")
RESELLER_NOT_ALLOWED = _("Only an indirect provider can name a transaction reseller.")
NO_COMMERCE_RELATIONSHIP = _("There is no commerce relationship between the partner and this customer.")
RESELLER_CANNOT_TRANSACT = _("Indirect resellers cannot transact. Ask your indirect provider to buy for you.")
IDEMPOTENCY_KEY_CONFLICT = _("This idempotency key was already used to check out another cart.")
CART_HAS_ERRORS = _("The cart has errors in its line items. Fix or remove them, then check out again.")

# --- Line error messages (codes: portal.errors.ErrorCode, PARTNER-CENTER.md §4.4, SPEC §4) -----
TERM_NOT_SUPPORTED_MESSAGE = _("Availability %(id)s referenced by line item %(n)s does not support term '%(term)s'.")
BILLING_CYCLE_NOT_SUPPORTED_MESSAGE = _(
    "Availability %(id)s referenced by line item %(n)s does not support term '%(term)s' with billing cycle '%(cycle)s'."
)
SEATS_OVER_MAXIMUM = _("The quantity %(quantity)s exceeds the maximum of %(max)s seats per subscription of %(sku)s.")
SEATS_UNDER_MINIMUM = _("The quantity %(quantity)s is below the minimum of %(min)s seats per subscription of %(sku)s.")
PER_CUSTOMER_LIMIT_MESSAGE = _(
    "For the current term, the requested number of %(quantity)s asset(s) exceeded the remaining limit of "
    "%(remaining)s assets allowed per customer."
)
CUSTOM_TERM_END_DATE_INVALID = _(
    "The custom term end date %(date)s is not one of the allowed end dates for term '%(term)s'."
)
SANDBOX_CUSTOMERS = _("Sandbox limit reached: a sandbox partner can have at most %(limit)s customers.")
SANDBOX_SUBSCRIPTIONS = _("Sandbox limit reached: at most %(limit)s subscriptions per customer.")
SANDBOX_LICENSES = _("Sandbox limit reached: at most %(limit)s licenses per subscription.")
NOT_PURCHASABLE_MESSAGE = _("Catalog item %(id)s is not eligible for purchase.")
PRICE_NOT_AVAILABLE_MESSAGE = _(
    "No price is published for %(sku)s (%(term)s, %(cycle)s) in market %(market)s today."
)

SANDBOX_MAX_CUSTOMERS = 75
SANDBOX_MAX_SUBSCRIPTIONS_PER_CUSTOMER = 5
SANDBOX_MAX_LICENSES_PER_SUBSCRIPTION = 25
INVALID_INPUT_DATE = _("The custom term end date must be a date (YYYY-MM-DD).")
FRIENDLY_NAME_MAX_LENGTH = 200  # CartLine.friendly_name and Subscription.friendly_name
FRIENDLY_NAME_TOO_LONG = _("The friendly name of line item %(n)s can be at most %(max)s characters.")
FRIENDLY_NAME_CONTROL_CHARACTER = _(
    "The friendly name of line item %(n)s is one line of text: it cannot hold a control character (%(character)s)."
)
IDEMPOTENCY_KEY_MAX_LENGTH = 100  # Order.idempotency_key
IDEMPOTENCY_KEY_TOO_LONG = _(
    "The idempotency key can be at most %(limit_value)d characters (this one has %(show_value)d). Reload the cart "
    "and check out again."
)

# --- Line errors as stored and as shown ------------------------------------------------------
# A line's error is stored in English (``line_errors`` formats it under English), whatever the
# language of the request that validated the cart: the API returns it as stored. A page shows
# it in the reader's language (``portal.text.stored_text_in_language``).
LINE_ERROR_MESSAGES = (
    NOT_PURCHASABLE_MESSAGE,
    TERM_NOT_SUPPORTED_MESSAGE,
    BILLING_CYCLE_NOT_SUPPORTED_MESSAGE,
    SEATS_OVER_MAXIMUM,
    SEATS_UNDER_MINIMUM,
    SANDBOX_LICENSES,
    ADDON_NOT_PURCHASABLE,
    CUSTOM_TERM_END_DATE_INVALID,
    PER_CUSTOMER_LIMIT_MESSAGE,
    SANDBOX_CUSTOMERS,
    SANDBOX_SUBSCRIPTIONS,
    PRICE_NOT_AVAILABLE_MESSAGE,
)


def line_error_text(description):
    """A stored (English) line error in the active language, or as stored when it was made from
    no known message."""
    return stored_text_in_language(description, LINE_ERROR_MESSAGES)
