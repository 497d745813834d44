"""The ``api_client(partner, *roles)`` fixture lives in ``tests/conftest.py``, shared by every
folder that calls the API; it is re-exported here for modules that import it by this path."""

from tests.conftest import api_client  # noqa: F401
