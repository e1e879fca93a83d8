"""Staff roles of the contact centre and what each may do in the console.

Groups are created by a data migration; their permissions are (re)synchronised after
every ``migrate`` from the table below, so a model added later gets its permissions
without another data migration. docs/staff-roles.md states the same table for people.
"""

from __future__ import annotations

AGENT = "agent"
SUPERVISOR = "supervisor"
DATA_FIX = "data_fix"
ADMIN = "admin"

ROLE_LABELS = {
    AGENT: "坐席 agent",
    SUPERVISOR: "班长 supervisor",
    DATA_FIX: "数据修正 data-fix",
    ADMIN: "管理员 admin",
}

# Customer data every role reads.
_READ = {
    "accounts.user": {"view"},
    "cards.issuer": {"view"},
    "cards.card": {"view"},
    "cards.binding": {"view"},
    "cards.bindingattempt": {"view"},
    "cards.invoicetitle": {"view"},
    "cards.autoinvoicesetting": {"view"},
    "cards.autoinvoicerun": {"view"},
    "invoices.operator": {"view"},
    "invoices.roadsection": {"view"},
    "invoices.transit": {"view"},
    "invoices.recharge": {"view"},
    "invoices.application": {"view"},
    "invoices.invoice": {"view"},
    "invoices.redletterconfirmation": {"view"},
    "support.faq": {"view"},
    "support.ticket": {"view"},
    "support.call": {"view"},
    "support.notification": {"view"},
}

# ``support.callback``: the callback list of missed calls, where the full number to dial is
# shown (each showing recorded); the other roles see callers' numbers masked only.
_AGENT = {
    "support.ticket": {"view", "add", "change"},
    "support.ticketmessage": {"view", "add"},
    "support.call": {"view", "add", "change", "callback"},
}

# ``support.reveal``: opening the original of a masked text (each time recorded, ``support.reveal``
# rows); ``support.view_reveal``: reading those records. ``cards.lift_cap``: lifting today's cap on
# failed binding attempts of an account or a card (each lift recorded, ``cards.bindingcaplift``
# rows). ``support.view_team_audit``: 我的操作记录 lists the agents' entries too (support/audit.py).
_SUPERVISOR = {
    "cards.bindingcaplift": {"view", "lift_cap"},
    "support.staffaudit": {"view_team_audit"},
    "support.faq": {"view", "add", "change"},
    "support.ticket": {"view", "add", "change", "assign", "reopen", "reveal"},
    "support.reveal": {"view"},
    "support.report": {"view"},
    "support.agentextension": {"view", "add", "change"},
    "accounts.historicaluser": {"view"},
}

_DATA_FIX = {
    "invoices.transit": {"view", "change"},
    "invoices.application": {"view", "change"},
    "invoices.invoice": {"view", "change"},  # the change page stays read-only; re-render documents
    "cards.invoicetitle": {"view", "change"},
    "support.ticket": {"view", "reveal"},  # a title or an account number written in a ticket
}


def _merge(*tables: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for table in tables:
        for model, actions in table.items():
            out.setdefault(model, set()).update(actions)
    return out


ROLE_PERMISSIONS: dict[str, dict[str, set[str]]] = {
    AGENT: _merge(_READ, _AGENT),
    SUPERVISOR: _merge(_READ, _AGENT, _SUPERVISOR),
    DATA_FIX: _merge(_READ, _DATA_FIX),
    ADMIN: {},  # every permission; see sync_role_permissions
}


def sync_role_permissions(sender=None, **kwargs) -> None:
    from django.apps import apps
    from django.contrib.auth.models import Group, Permission

    # post_migrate is sent once per app; act after the last one, when every permission exists.
    last = [c for c in apps.get_app_configs() if c.models_module is not None][-1]
    if sender is not None and sender is not last:
        return

    for role in ROLE_PERMISSIONS:
        Group.objects.get_or_create(name=role)
    for role, table in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        if role == ADMIN:
            perms = list(Permission.objects.all())
        else:
            perms = []
            for model_label, actions in table.items():
                app_label, model = model_label.split(".")
                for action in actions:
                    codename = action if action not in {"view", "add", "change", "delete"} else f"{action}_{model}"
                    perm = Permission.objects.filter(
                        content_type__app_label=app_label, content_type__model=model, codename=codename
                    ).first()
                    if perm is not None:
                        perms.append(perm)
        group.permissions.set(perms)
