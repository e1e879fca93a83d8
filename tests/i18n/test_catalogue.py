"""The English catalogue ships complete and compiled.

Fails, naming the strings, when a string marked for translation anywhere in the product (pages,
e-mails, messages, the console, API messages) has no English in locale/en, or only a fuzzy one,
and when the committed django.mo is not the compilation of the committed django.po. The cure for
both is `make messages`, then translating what it lists (docs/i18n.md).
"""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

BASE_DIR = Path(settings.BASE_DIR)
PO = BASE_DIR / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# The same as `make messages` (Makefile MESSAGES_IGNORE).
IGNORE = [".venv", "tests", "bench", "var", "node_modules"]


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unquote(chunk: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), chunk[1:-1])


def read_po(path: Path) -> list[dict]:
    """The entries of a .po file as gettext writes it (entries apart by blank lines): msgctxt,
    msgid, msgid_plural, msgstr (a list) and flags; obsolete entries and the header left out."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry: dict = {"flags": set(), "msgstr": []}
        key = None
        for line in block.strip().splitlines():
            line = line.strip()
            if line.startswith("#,"):
                entry["flags"].update(f.strip() for f in line[2:].split(","))
            elif line.startswith("#"):
                continue
            elif line.startswith('"') and key is not None:
                if key == "msgstr":
                    entry["msgstr"][-1] += _unquote(line)
                else:
                    entry[key] += _unquote(line)
            else:
                word, _sp, rest = line.partition(" ")
                if word.startswith("msgstr"):
                    entry["msgstr"].append(_unquote(rest))
                    key = "msgstr"
                else:
                    entry[word] = _unquote(rest)
                    key = word
        if entry.get("msgid"):
            entries.append(entry)
    return entries


def missing(entries: list[dict]) -> list[str]:
    return [
        e["msgid"]
        for e in entries
        if "fuzzy" in e["flags"] or not e["msgstr"] or any(not s.strip() for s in e["msgstr"])
    ]


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"GNU gettext is needed ({tool} not found): apt-get install gettext (make test installs it)")


# The product's source, copied for extraction (makemessages writes into any `locale` folder it
# meets under its working directory, so it never runs in the checkout itself).
SOURCES = ["accounts", "cards", "invoices", "support", "piaogen"]


def test_every_marked_string_has_english(tmp_path, monkeypatch):
    _need("xgettext")
    _need("msgmerge")
    tree = tmp_path / "src"
    for name in SOURCES:
        shutil.copytree(BASE_DIR / name, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "static"))
    copy = tree / "locale"
    (copy / "en" / "LC_MESSAGES").mkdir(parents=True)
    shutil.copy(PO, copy / "en" / "LC_MESSAGES" / "django.po")
    monkeypatch.chdir(tree)
    with override_settings(LOCALE_PATHS=[copy]):
        call_command(
            "makemessages",
            locale=["en"],
            ignore_patterns=IGNORE,
            no_obsolete=True,
            no_location=True,
            verbosity=0,
        )
    extracted = read_po(copy / "en" / "LC_MESSAGES" / "django.po")
    assert len(extracted) > 1000, "makemessages found almost nothing"
    untranslated = missing(extracted)
    assert not untranslated, (
        f"{len(untranslated)} string(s) without English (run `make messages`, translate them in {PO.relative_to(BASE_DIR)}):\n"
        + "\n".join(untranslated)
    )


def test_the_committed_catalogue_is_complete_and_checks():
    _need("msgfmt")
    untranslated = missing(read_po(PO))
    assert not untranslated, "without English or fuzzy:\n" + "\n".join(untranslated)
    # Placeholders kept: msgfmt refuses a translation whose %(name)s / {name} differ.
    run = subprocess.run(["msgfmt", "--check-format", "-o", "/dev/null", str(PO)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_the_committed_mo_is_compiled_from_the_committed_po(tmp_path):
    _need("msgfmt")
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "-o", str(fresh), str(PO)], check=True)
    with MO.open("rb") as committed, fresh.open("rb") as compiled:
        ours, theirs = gettext.GNUTranslations(committed)._catalog, gettext.GNUTranslations(compiled)._catalog
    stale = sorted(
        {str(k) for k in set(ours) ^ set(theirs)} | {str(k) for k in ours if k in theirs and ours[k] != theirs[k]}
    )
    assert not stale, (
        "locale/en/LC_MESSAGES/django.mo is stale: run `make messages` (or compilemessages)\n" + "\n".join(stale[:50])
    )
