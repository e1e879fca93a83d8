"""An account's history pages are for supervisors and admins, not agents (docs/staff-roles.md)."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role, allowed", [("agent", False), ("data_fix", False), ("supervisor", True), ("admin", True)]
)
def test_account_history_by_role(staff, make_user, client, role, allowed):
    customer = make_user("13711112222")
    client.force_login(staff(role))
    assert client.get(f"/admin/accounts/user/{customer.pk}/change/").status_code == 200
    r = client.get(f"/admin/accounts/user/{customer.pk}/history/")
    assert (r.status_code == 200) is allowed, r.status_code
    if not allowed:
        assert r.status_code in (302, 403)
