# An index for the catalog page (issue 3, bench/catalog.py). Plain SQL, valid on SQLite and
# PostgreSQL, so that the model's Meta (owned elsewhere) need not change and makemigrations
# sees no drift; it may move into Product.Meta.indexes later.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0001_initial"),
    ]

    operations = [
        # The catalog is ordered by product title, then SKU id: read in this index's order
        # (then each product's SKUs by the unique (product, sku_id) index) the first page
        # stops after a few products instead of sorting all 10,000 SKUs.
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS catalog_product_title_id_idx ON catalog_product (title, id)",
            "DROP INDEX IF EXISTS catalog_product_title_id_idx",
        ),
    ]
