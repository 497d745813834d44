"""PostgreSQL: ``billing_ratedcall`` becomes a table partitioned by run (LIST on ``run_id``).

A rating run writes its rows into a table of its own, builds its indexes in one pass and
attaches it when it is published; a replaced run's partition is dropped whole. Reads of a
month name its published run, so PostgreSQL reads that partition only. The primary key
becomes (id, run_id), as a partitioned table requires; ids still come from one sequence.
Existing rows move into one partition per run. SQLite keeps the plain table.
"""

from django.db import migrations

TABLE = "billing_ratedcall"


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    execute = schema_editor.execute
    old = f"{TABLE}_unpartitioned"
    execute(f"ALTER TABLE {TABLE} RENAME TO {old}")
    execute(f"CREATE TABLE {TABLE} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY LIST (run_id)")
    execute(f"CREATE SEQUENCE {TABLE}_partitioned_id_seq OWNED BY {TABLE}.id")
    execute(f"ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{TABLE}_partitioned_id_seq')")
    execute(f"SELECT setval('{TABLE}_partitioned_id_seq', COALESCE((SELECT MAX(id) FROM {old}), 0) + 1, false)")
    # Rows written outside any run's partition (by hand, or by tests' factories) land here.
    execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT run_id FROM {old}")
        runs = [row[0] for row in cursor.fetchall()]
    for run_id in runs:
        execute(f"CREATE TABLE {TABLE}_r{int(run_id)} PARTITION OF {TABLE} FOR VALUES IN ({int(run_id)})")
    execute(f"INSERT INTO {TABLE} SELECT * FROM {old}")
    execute(f"DROP TABLE {old}")
    execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, run_id)")
    execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT rated_call_once_per_run UNIQUE (run_id, usage_record_id)")
    execute(f"CREATE INDEX billing_rat_run_partner_idx ON {TABLE} (run_id, partner_id) WHERE partner_id IS NOT NULL")


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0010_rated_call_lean_writes"),
    ]

    operations = [
        migrations.RunPython(partition, migrations.RunPython.noop, elidable=False),
    ]
