# Indexes for the Subscriptions list (issue 4, bench/subscriptions.py). Plain SQL, valid on
# SQLite and PostgreSQL, so that the models' Meta (owned elsewhere) need not change and
# makemigrations sees no drift; they may move into Meta.indexes later.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("portal", "0001_initial"),
        ("subscriptions", "0002_alignment_and_redundancy"),
    ]

    operations = [
        # The list's default order starts with the customer's name: read in this index's
        # order, the first page stops after a few customers instead of sorting every row.
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS portal_customer_name_id_idx ON portal_customer (name, id)",
            "DROP INDEX IF EXISTS portal_customer_name_id_idx",
        ),
        # Covers "partner or reseller of record", with the SKU: the list's count (whole or of
        # add-ons) and the product filter's choices read this index alone, not the table.
        # (SKU first would tempt SQLite into sorting every add-on row for a filtered page.)
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS subscription_partner_reseller_sku_idx "
            "ON subscriptions_subscription (partner_id, reseller_id, sku_id)",
            "DROP INDEX IF EXISTS subscription_partner_reseller_sku_idx",
        ),
    ]
