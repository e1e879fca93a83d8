"""Django's makemessages, without msgmerge's fuzzy matching.

A new string must arrive empty, to be translated, not carrying the English of some similar
string marked fuzzy: the catalogue test (tests/i18n) and `make messages` list empty strings,
and a wrong guess is worse than none.
"""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    msgmerge_options = [*makemessages.Command.msgmerge_options, "--no-fuzzy-matching"]
