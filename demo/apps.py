from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo data of SPEC §13 and its commands (``seed_demo``, ``demo_logins``); above
    every domain app, imported by none."""

    name = "demo"
    verbose_name = "Demo data"
