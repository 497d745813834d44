"""``create_api_token EMAIL [--name NAME]``: print a new API token for the user, and nothing
else, so that scripts can capture it. Exits non-zero with a one-line reason when the e-mail
is unknown or the user is not a member of a partner."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from portal.tokens import TokenError, api_token_create


class Command(BaseCommand):
    help = "Create an API token for the user with this e-mail and print it (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("email", help="The user's e-mail address (their login).")
        parser.add_argument("--name", default="", help="What the token is for (default: API token).")

    def handle(self, *args, email, name, **options):
        User = get_user_model()
        # The login is the e-mail address; fall back to the e-mail field for other accounts.
        users = list(User.objects.filter(username__iexact=email)[:2]) or list(
            User.objects.filter(email__iexact=email)[:2]
        )
        if not users:
            raise CommandError(f"No user with e-mail {email}.")
        if len(users) > 1:
            raise CommandError(f"More than one user matches {email}; use the exact login.")
        if not users[0].is_active:
            raise CommandError(f"The user {email} is inactive.")
        try:
            _token, secret = api_token_create(user=users[0], name=name)
        except TokenError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(secret)
