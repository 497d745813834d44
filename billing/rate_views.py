"""The call-rates pages: the rates in force in one of the partner's markets, and their CSV.

A market is a country of one of the partner's customers: any other is 404 (the resolver-driven
scoping sweep checks it). Every member of the partner may look rates up (SPEC §2: reading).
"""

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from billing.rate_selectors import partner_markets, rates_in_force
from portal.csv_export import CsvLineWriter
from portal.models import currency_for_country
from portal.views import partner_required

CSV_COLUMNS = ["DestinationCountry", "NumberType", "Currency", "UnitPricePerMinute", "ErpPricePerMinute",
               "EffectiveFrom", "EffectiveTo"]
NO_MARKETS = _("You have no customers yet: the rates of a market are shown once you have a customer in it.")


def _market(request, market):
    markets = partner_markets(partner=request.partner)
    if market not in markets:
        raise Http404
    return markets


@require_GET
@partner_required
def rates_home(request):
    """The first of the partner's markets, or a page saying there is none."""
    markets = partner_markets(partner=request.partner)
    if markets:
        return redirect("billing:rates", market=markets[0])
    return render(request, "billing/rates.html", {"markets": [], "no_markets": NO_MARKETS})


@require_GET
@partner_required
def rates_page(request, market):
    markets = _market(request, market)
    today = timezone.localdate()
    context = {
        "markets": markets,
        "market": market,
        "currency": currency_for_country(market),
        "today": today,
        "rates": rates_in_force(market=market, on_date=today),
    }
    return render(request, "billing/rates.html", context)


@require_GET
@partner_required
def rates_csv(request, market):
    _market(request, market)
    today = timezone.localdate()
    writer = CsvLineWriter(lineterminator="\n")
    lines = [writer.writerow(CSV_COLUMNS)]
    for rate in rates_in_force(market=market, on_date=today):
        lines.append(writer.writerow([
            rate.destination_country, rate.number_type, rate.currency, rate.unit_price, rate.erp_price, rate.effective_from.isoformat(),
            rate.effective_to.isoformat() if rate.effective_to else "",
        ]))
    response = HttpResponse("".join(lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="call-rates-{market}-{today:%Y-%m-%d}.csv"'
    return response
