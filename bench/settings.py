"""The production settings with one addition: a trivial JSON view at /bench/trivial, the
reference the verification figure is measured against on the same server."""

from piaogen.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
