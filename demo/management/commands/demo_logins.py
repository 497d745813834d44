"""``manage.py demo_logins``: print the demo sign-ins, for ``make run`` before the server starts."""

from django.core.management.base import BaseCommand

from demo import DEMO_PASSWORD, DEMO_URL, STAFF_EMAIL
from demo.partners import PARTNERS, USERS
from portal.models import Role


class Command(BaseCommand):
    help = "Print the demo logins (email, partner, roles), their password and the portal URL."

    def handle(self, *args, **options):
        names = {p["key"]: f"{p['name']} ({p['mpn_id']})" for p in PARTNERS}
        rows = [(email, names[key], ", ".join(str(Role(r).label) for r in roles)) for email, _, key, roles in USERS]
        rows.append((STAFF_EMAIL, "operator staff", "Django admin superuser (/admin/)"))
        headers = ("Email", "Partner", "Roles")
        widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(3)]

        def line(cells):
            return "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths)).rstrip()

        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING("Demo logins"))
        self.stdout.write(line(headers))
        self.stdout.write(line("-" * w for w in widths))
        for row in rows:
            self.stdout.write(line(row))
        self.stdout.write("")
        self.stdout.write(f"Password for every login: {DEMO_PASSWORD}")
        self.stdout.write(f"Portal: {DEMO_URL}")
        self.stdout.write("")
