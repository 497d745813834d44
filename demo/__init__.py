"""The demo data of SPEC §13, loaded by ``manage.py seed_demo``.

``demo`` is an installed app above ``billing``: it builds every app's data, so it imports
them all, and no app imports it (portal <- catalog <- subscriptions <- overage <- billing
<- demo). Its commands are ``seed_demo`` and ``demo_logins``.

Every builder is idempotent: rows are found by natural keys (or by ``uuid5`` ids) and
only created when missing, so running the loader twice changes nothing.
"""

import uuid

# Fixed namespace for the demo's deterministic ids (subscriptions, carts, orders, Azure
# subscriptions): the same demo row always gets the same UUID.
DEMO_NAMESPACE = uuid.UUID("5f0c3a2e-9d41-4e8b-a3c7-6b1d2e4f8a90")

DEMO_PASSWORD = "demo-pass-123"
STAFF_EMAIL = "staff@portal.example"
DEMO_URL = "http://127.0.0.1:8000/"


def demo_uuid(*parts):
    """A stable UUID for a demo object named by ``parts``."""
    return uuid.uuid5(DEMO_NAMESPACE, "/".join(str(p) for p in parts))
