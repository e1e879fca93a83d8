from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from accounts.models import Partner, PartnerToken, User
from piaogen.crypto import token_digest


@pytest.mark.django_db
def test_partner_create_prints_token_last_and_stores_only_its_hash():
    out = StringIO()
    call_command("partner_create", "--kind", "issuer", "--name", "演示速通卡", "--network-code", "1101", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    partner = Partner.objects.get()
    assert partner.kind == "issuer" and partner.network_code_list == ["1101"]
    stored = PartnerToken.objects.get()
    assert stored.digest == token_digest(token) and token not in stored.digest


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, message",
    [
        (["--kind", "issuer", "--name", "无编号"], "至少需要一个"),
        (["--kind", "issuer", "--name", "坏编号", "--network-code", "11A1"], "4位数字"),
        (["--kind", "enterprise", "--name", "无税号企业"], "统一社会信用代码"),
        (["--kind", "enterprise", "--name", "坏税号", "--tax-id", "91110000MA01DEM006"], "GB 32100"),
        (["--kind", "clearing", "--name", "清分", "--network-code", "1101"], "只有发行方"),
    ],
)
def test_partner_create_refusals(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("partner_create", *args, stdout=StringIO())
    assert not Partner.objects.exists()


@pytest.mark.django_db
def test_network_code_belongs_to_one_issuer():
    call_command("partner_create", "--kind", "issuer", "--name", "甲", "--network-code", "4401", stdout=StringIO())
    with pytest.raises(CommandError, match="已属于"):
        call_command("partner_create", "--kind", "issuer", "--name", "乙", "--network-code", "4401", stdout=StringIO())


@pytest.mark.django_db
def test_staff_groups_exist_with_their_permissions():
    groups = {
        g.name: {f"{p.content_type.app_label}.{p.codename}" for p in g.permissions.all()} for g in Group.objects.all()
    }
    assert {"agent", "supervisor", "data_fix", "admin"} <= set(groups)
    assert "accounts.view_user" in groups["agent"] and "accounts.change_user" not in groups["agent"]
    assert "accounts.change_user" in groups["admin"]


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_staff_log_into_the_console(client):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    counts = (User.objects.count(), Group.objects.get(name="agent").user_set.count())
    call_command("seed_demo", stdout=StringIO())
    assert (User.objects.count(), Group.objects.get(name="agent").user_set.count()) == counts
    text = out.getvalue()
    assert "坐席" in text and "班长" in text and "数据修正" in text and "管理员" in text
    from accounts.seed import STAFF, STAFF_PASSWORD

    for mobile, _role, _name in STAFF:
        client.logout()
        r = client.post("/admin/login/?next=/admin/", {"username": mobile, "password": STAFF_PASSWORD})
        assert r.status_code == 302, r.content.decode()[:500]
        assert client.get("/admin/").status_code == 200
    # the agent may read users but not change them
    client.logout()
    client.post("/admin/login/", {"username": STAFF[0][0], "password": STAFF_PASSWORD})
    assert client.get("/admin/accounts/user/").status_code == 200
    user = User.objects.filter(is_staff=False).first()
    r = client.post(f"/admin/accounts/user/{user.pk}/change/", {"name": "改名"})
    assert r.status_code == 403


@pytest.mark.django_db
def test_seed_demo_if_empty_skips_a_used_database(make_user):
    make_user()
    out = StringIO()
    call_command("seed_demo", "--if-empty", stdout=out)
    assert "未载入" in out.getvalue()
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_console_search_by_full_mobile_finds_the_account(admin_client, make_user):
    make_user(mobile="13312345678", name="赵六")
    make_user(mobile="13312349999")
    r = admin_client.get("/admin/accounts/user/", {"q": "13312345678"}, follow=True)
    assert "13312345678" not in r.redirect_chain[-1][0]  # the number leaves the URL for its digest
    body = r.content.decode()
    assert "赵六" in body and "133****9999" not in body
    assert "133****5678" in body


@pytest.mark.django_db
@pytest.mark.parametrize("changelist", ["/admin/accounts/user/", "/admin/accounts/smscode/"])
def test_console_list_search_posts_so_no_full_mobile_is_ever_in_a_url(admin_client, make_user, changelist):
    make_user(mobile="13312345678", name="赵六")
    page = admin_client.get(changelist).content.decode()
    assert 'id="changelist-search" method="post"' in page
    r = admin_client.post(changelist, {"q": "133 1234 5678"})
    assert r.status_code == 302 and "13312345678" not in r["Location"] and "mobile_digest=" in r["Location"]
    found = admin_client.get(r["Location"]).content.decode()
    assert "133****5678" in found and "13312345678" not in found
    r = admin_client.post(changelist + "?mobile_digest=x", {"q": "赵六"})
    assert r.status_code == 302 and "mobile_digest" not in r["Location"] and "q=" in r["Location"]
