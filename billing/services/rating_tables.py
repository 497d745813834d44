"""Where a rating run's rows go (SPEC §8)."""

from django.db import connection

from billing.models import RatedCall, UsageRecord

# --- Where a run's rows go ----------------------------------------------------------------
#
# PostgreSQL: ``billing_ratedcall`` is partitioned by run (migration 0011). A run writes into
# a table of its own, without indexes; when every chunk is in, the indexes are built in one
# sorted pass each (cheaper than keeping them up row by row), and publishing attaches the
# table as the run's partition in the publishing transaction. A replaced run's partition is
# dropped, not deleted row by row; a dead run's table is dropped by the next publication.
# SQLite: the rows go straight into the table, and replaced rows are deleted.

_PARTITIONED = "postgresql"


def run_table(run):
    if connection.vendor == _PARTITIONED:
        return f"{RatedCall._meta.db_table}_r{int(run.pk)}"
    return RatedCall._meta.db_table


# Each chunk's plan reads the calls table's statistics. Right after a month's calls are
# imported, and before autovacuum has analyzed them (or where it is off, as on the bench's
# server), PostgreSQL plans a chunk's 100,000 calls as a handful of rows and builds its hash
# joins on them instead of on the small tables.
_STALE_FRACTION = 0.1


def refresh_statistics():
    """Analyze the calls table when its statistics are missing or older than a tenth of its
    rows (about 0.5 s for a million calls, once; later runs find them fresh)."""
    if connection.vendor != _PARTITIONED:
        return
    table = UsageRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_live_tup, n_mod_since_analyze, COALESCE(last_analyze, last_autoanalyze) IS NULL "
            "FROM pg_stat_user_tables WHERE relid = %s::regclass",
            [table],
        )
        row = cursor.fetchone()
        if row is not None and (row[2] or row[1] > _STALE_FRACTION * max(row[0], 1000)):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def prepare_run_table(run):
    if connection.vendor != _PARTITIONED:
        return
    parent, table = RatedCall._meta.db_table, run_table(run)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TABLE {table} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        # Lets ATTACH PARTITION trust the rows without scanning them.
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_run CHECK (run_id = {int(run.pk)})")


# The parent's constraints and indexes, built on a run's table before it is attached (ATTACH
# adopts matching ones instead of building its own inside the publishing transaction).
_RUN_INDEXES = (
    "ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id, run_id)",
    "ALTER TABLE {table} ADD CONSTRAINT {table}_once UNIQUE (run_id, usage_record_id)",
    "CREATE INDEX {table}_partner ON {table} (run_id, partner_id) WHERE partner_id IS NOT NULL",
)


def seal_run_table(run):
    """Every chunk is in: build the run table's indexes and statistics (before publishing,
    so the publishing transaction stays short)."""
    if connection.vendor != _PARTITIONED:
        return
    table = run_table(run)
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for statement in _RUN_INDEXES:
            cursor.execute(statement.format(table=table))
        # A sample of 3,000 rows (statistics target 10) instead of 30,000: the month's reads
        # filter on a run's partition by partner and by minutes, which a small sample
        # estimates as well; 0.04 s instead of 0.5 s for a million rated calls.
        cursor.execute("SET default_statistics_target = 10")
        cursor.execute(f"ANALYZE {table}")
        cursor.execute("RESET default_statistics_target")
        cursor.execute("RESET maintenance_work_mem")


def attach_run_table(run):
    """Inside the publishing transaction: the run's rows become part of the table."""
    if connection.vendor != _PARTITIONED:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {RatedCall._meta.db_table} ATTACH PARTITION {run_table(run)} FOR VALUES IN ({int(run.pk)})"
        )


def drop_runs(runs):
    """Remove the rated calls of replaced or dead runs: their tables, or their rows."""
    runs = list(runs)
    if not runs:
        return
    if connection.vendor == _PARTITIONED:
        with connection.cursor() as cursor:
            for run in runs:
                cursor.execute(f"DROP TABLE IF EXISTS {run_table(run)}")
    # Rows kept elsewhere (before partitioning, or written by hand) are deleted.
    RatedCall.objects.filter(run__in=[run.pk for run in runs]).delete()
