"""Demo accounts: a personal user, an enterprise user and one staff user per role."""

from __future__ import annotations

import os

from django.contrib.auth.models import Group

from .models import User, mobile_digest
from .roles import ADMIN, AGENT, DATA_FIX, ROLE_LABELS, SUPERVISOR, sync_role_permissions

DEMO_PASSWORD = "piaogen2026"
STAFF_PASSWORD = "console2026"

DEMO_USERS = [
    # mobile, account type, name, USCC (a valid-checksum demo value)
    ("13800000001", User.AccountType.PERSONAL, "演示用户张三", ""),
    ("13800000002", User.AccountType.ENTERPRISE, "演示物流有限公司", "91110000MA01DEM005"),
]
STAFF = [
    ("13900000001", AGENT, "演示坐席"),
    ("13900000002", SUPERVISOR, "演示班长"),
    ("13900000003", DATA_FIX, "演示数据修正员"),
    ("13900000004", ADMIN, "演示管理员"),
]


def _ensure_user(mobile: str, password: str, **fields) -> tuple[User, bool]:
    user = User.objects.filter(mobile_digest=mobile_digest(mobile)).first()
    if user:
        return user, False
    return User.objects.create_user(mobile, password, **fields), True


def demo_user() -> User:
    return User.objects.get(mobile_digest=mobile_digest(DEMO_USERS[0][0]))


def demo_enterprise_user() -> User:
    return User.objects.get(mobile_digest=mobile_digest(DEMO_USERS[1][0]))


def run(out) -> list[str]:
    sync_role_permissions()
    port = os.environ.get("PORT", "8000")
    lines = []
    for mobile, account_type, name, tax_id in DEMO_USERS:
        _ensure_user(mobile, DEMO_PASSWORD, account_type=account_type, name=name, tax_id=tax_id)
        lines.append(
            f"用户 user ({account_type}): {mobile} / {DEMO_PASSWORD}  →  http://127.0.0.1:{port}/accounts/login/"
        )
    for mobile, role, name in STAFF:
        user, _ = _ensure_user(mobile, STAFF_PASSWORD, name=name, is_staff=True, is_superuser=(role == ADMIN))
        user.groups.add(Group.objects.get(name=role))
        lines.append(f"{ROLE_LABELS[role]}: {mobile} / {STAFF_PASSWORD}  →  http://127.0.0.1:{port}/admin/")
    return lines
