"""Writes of the subscriptions app, split by sub-domain (e.g. ``cart``: create, update,
validate; ``checkout``: cart → order → subscriptions; ``pricing``: price rows and the first
charge)."""
