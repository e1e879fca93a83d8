#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "piaogen.settings")
    if "SECRET_KEY" not in os.environ and "DEBUG" not in os.environ:
        # No secret configured at all: a developer's checkout, where `.venv/bin/python manage.py …`
        # must work as after `make run`. Deployments set SECRET_KEY (and serve through WSGI, which
        # keeps refusing to start without it).
        os.environ["DEBUG"] = "1"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
