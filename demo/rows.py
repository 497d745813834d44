"""Idempotent bulk upsert for the demo's larger tables (price list, rates)."""


def sync_rows(model, key_fields, rows):
    """Make ``model`` hold ``rows`` (dicts of field values), matched on ``key_fields``.

    Missing rows are bulk-created and rows whose other values differ are bulk-updated, so a
    second run writes nothing. Rows of the table that are not in ``rows`` are left alone.
    Returns the number of rows created.
    """
    if not rows:
        return 0
    value_fields = [name for name in rows[0] if name not in key_fields]
    # Compare foreign keys by id: fetching related objects per row would cost a query each.
    key_attrs = [f"{name}_id" if model._meta.get_field(name).is_relation else name for name in key_fields]

    def key_of(values):
        return tuple(getattr(values[name], "pk", values[name]) for name in key_fields)

    wanted = {key_of(row): row for row in rows}
    lookup = {f"{key_attrs[0]}__in": {key[0] for key in wanted}}
    existing = {tuple(getattr(obj, attr) for attr in key_attrs): obj for obj in model._default_manager.filter(**lookup)}

    to_create, to_update = [], []
    for key, row in wanted.items():
        obj = existing.get(key)
        if obj is None:
            to_create.append(model(**row))
        elif any(getattr(obj, name) != row[name] for name in value_fields):
            for name in value_fields:
                setattr(obj, name, row[name])
            to_update.append(obj)
    model._default_manager.bulk_create(to_create, batch_size=500)
    if to_update:
        model._default_manager.bulk_update(to_update, value_fields, batch_size=500)
    return len(to_create)
