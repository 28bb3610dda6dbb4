"""Settings for a Celery worker subprocess started by a test: the test settings plus this run's own Redis key
prefix, so concurrent test sessions sharing one Redis never take each other's messages."""

import os

from tests.settings import *  # noqa: F403

CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": os.environ["PROVISIONING_TEST_KEYPREFIX"]}
