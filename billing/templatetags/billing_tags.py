"""``{% customer_credits customer %}``: the communication-credit card of a customer (balance,
auto-recharge, a link to the ledger), so a lower app's page (the customer page) shows it
without its view reading billing's models."""

from django import template

from billing import selectors

register = template.Library()


@register.inclusion_tag("billing/customer_credits.html", takes_context=True)
def customer_credits(context, customer):
    """``customer`` is one the page already reached through the partner's scope."""
    account, balance = selectors.customer_credits(customer)
    return {
        "customer": customer,
        "credit_account": account,
        "credit_balance": balance,
        "perms_portal": context.get("perms_portal", {}),
    }
