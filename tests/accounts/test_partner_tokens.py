"""A partner that loses its token gets another; a leaked one is revoked (command and console)."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import PartnerToken


def _call(*args) -> str:
    out = StringIO()
    call_command("partner_token", *args, stdout=out)
    return out.getvalue()


def _works(token: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.post("/api/v1/partner/transits", {"transits": []}, format="json").status_code


@pytest.mark.django_db
def test_issue_list_and_revoke_by_command(partner_client):
    first = partner_client("clearing", name="清分中心")
    partner = first.partner
    new = _call("issue", str(partner.pk)).strip().splitlines()[-1]
    assert _works(new) == 200
    listing = _call("list", str(partner.pk))
    prefixes = re.findall(r"^(\S{8})…", listing, flags=re.M)
    assert len(prefixes) == 2 and new[:8] in prefixes and new not in listing
    assert "never used" in listing or "last used" in listing
    old_prefix = next(p for p in prefixes if p != new[:8])
    assert "Revoked" in _call("revoke", old_prefix)
    assert first.post("/api/v1/partner/transits", {"transits": []}, format="json").status_code == 401
    assert _works(new) == 200
    with pytest.raises(CommandError, match="already revoked"):
        _call("revoke", old_prefix)
    with pytest.raises(CommandError, match="No token"):
        _call("revoke", "zzzzzzzz")
    with pytest.raises(CommandError, match="No partner"):
        _call("issue", "999999")


@pytest.mark.django_db
def test_console_issues_a_token_shown_once_and_revokes_one(partner_client, admin_client):
    client = partner_client("issuer", name="发行方", network_codes=["4101"])
    partner = client.partner
    r = admin_client.post("/admin/accounts/partner/", {"action": "issue_token", "_selected_action": [partner.pk]})
    assert r.status_code == 200 and "no-store" in r["Cache-Control"]
    token = re.search(r"<code>([^<]+)</code>", r.content.decode()).group(1)
    assert _works(token) in (200, 403)  # an issuer may not push trips: authenticated, then refused
    assert PartnerToken.objects.filter(partner=partner).count() == 2
    page = admin_client.get(f"/admin/accounts/partner/{partner.pk}/change/").content.decode()
    assert token[:8] in page and token not in page
    old = PartnerToken.objects.filter(partner=partner).exclude(prefix=token[:8]).get()
    admin_client.post("/admin/accounts/partnertoken/", {"action": "revoke", "_selected_action": [old.pk]})
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert client.post("/api/v1/partner/cards", {"cards": []}, format="json").status_code == 401
