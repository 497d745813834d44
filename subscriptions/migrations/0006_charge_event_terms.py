# A charge event keeps the SKU (and availability), term and billing cycle it was priced for, so the
# reconciliation lines of an earlier month do not change when an upgrade or a renewal changes
# the subscription. Existing events take their subscription's current values.

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill(apps, schema_editor):
    ChargeEvent = apps.get_model("subscriptions", "ChargeEvent")
    Subscription = apps.get_model("subscriptions", "Subscription")
    own = Subscription.objects.filter(pk=OuterRef("subscription_id"))
    ChargeEvent.objects.update(
        sku_id=Subquery(own.values("sku_id")[:1]),
        availability_id=Subquery(own.values("availability_id")[:1]),
        term_duration=Subquery(own.values("term_duration")[:1]),
        billing_cycle=Subquery(own.values("billing_cycle")[:1]),
    )


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0002_product_title_index"),
        ("subscriptions", "0005_addon_count_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="chargeevent",
            name="sku",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="catalog.sku"
            ),
        ),
        migrations.AddField(
            model_name="chargeevent",
            name="availability",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                to="catalog.availability",
            ),
        ),
        migrations.AddField(
            model_name="chargeevent",
            name="term_duration",
            field=models.CharField(
                choices=[("P1M", "1 month"), ("P1Y", "1 year"), ("P3Y", "3 years")], default="", max_length=3,
                verbose_name="term",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="chargeevent",
            name="billing_cycle",
            field=models.CharField(
                choices=[("monthly", "Monthly"), ("annual", "Annual"), ("triennial", "Triennial"), ("none", "None")],
                default="", max_length=10, verbose_name="billing cycle",
            ),
            preserve_default=False,
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="chargeevent",
            name="sku",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="catalog.sku"),
        ),
    ]
