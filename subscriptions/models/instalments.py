"""The monthly instalment totals the database keeps for the dashboard (read only)."""

from django.db import models
from django.db.models import Q

from portal.models import Partner


class MonthlyInstalmentTotalQuerySet(models.QuerySet):
    def transacted_by(self, partner):
        return self.filter(Q(partner=partner) | Q(reseller_key=partner.pk))


class MonthlyInstalmentTotal(models.Model):
    """The seats × unit price of the live license subscriptions billed monthly (not the Azure
    plan), summed per transacting partner, reseller of record, currency, month of the start
    date and month of the term end: the month's estimated instalments of a partner are the sum
    of the rows that started before the month and end in it or later (the dashboard, issue 13).

    Kept by the database, not by the services: triggers on the subscription table (migration
    ``0009``) add each row's new figure and take away its old one on every insert, update of a
    column it depends on, and delete, in the writer's transaction; so bulk writes (renewal,
    the demo loader) and the admin keep it as exact as the services do. Read only."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    # The reseller of record's id, 0 without one (a unique key cannot match NULLs).
    reseller_key = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    start_month = models.DateField()
    end_month = models.DateField()
    amount = models.DecimalField(max_digits=24, decimal_places=6, default=0)

    objects = MonthlyInstalmentTotalQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "reseller_key", "currency", "start_month", "end_month"],
                name="monthly_instalment_total_key",
            ),
        ]
        indexes = [models.Index(fields=["reseller_key"], name="instalment_total_reseller_idx")]

    def __str__(self):
        return f"{self.partner_id}/{self.reseller_key} {self.start_month}–{self.end_month}: {self.amount} {self.currency}"
