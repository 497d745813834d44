import django.db.models.deletion
from django.db import migrations, models


def owner_of_the_plan(apps, schema_editor):
    """Existing Azure subscriptions were created by the partner that holds their plan."""
    AzureSubscription = apps.get_model("overage", "AzureSubscription")
    for azure_subscription in AzureSubscription.objects.select_related("plan"):
        azure_subscription.partner_id = azure_subscription.plan.partner_id
        azure_subscription.save(update_fields=["partner"])


class Migration(migrations.Migration):
    dependencies = [
        ("overage", "0002_assignment_may_be_instant"),
        ("portal", "0002_apitoken"),
    ]

    operations = [
        migrations.AddField(
            model_name="azuresubscription",
            name="partner",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="azure_subscriptions",
                to="portal.partner",
                verbose_name="partner",
            ),
        ),
        migrations.RunPython(owner_of_the_plan, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="azuresubscription",
            name="partner",
            field=models.ForeignKey(
                help_text="The partner that created it: only that partner sees it and can send overage to it.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="azure_subscriptions",
                to="portal.partner",
                verbose_name="partner",
            ),
        ),
    ]
