"""One record of who owns a card network code: the issuer (``IssuerNetworkCode``), whose partner
account (``Issuer.partner``) may push the code's cards and recharges. ``accounts.PartnerNetworkCode``,
the second table that said which partner owned a code, is carried over here and dropped by
``accounts.0007_partner_network_code_removed``.

What each row of the partner table becomes (what was enforced stays so: the partner table was
what pushes were checked against):
- a code that an issuer owns: that issuer's partner account becomes the row's partner;
- an issuer whose codes were owned by different partners (or partly by none) is split: the
  codes of the partner owning most of them stay, the other codes move, with their registry
  cards, to a copy of the issuer (code ``<issuer>-<n>``) whose partner account is their owner;
- a code no issuer owned: a new issuer of the partner (code ``partner-<id>``, named after it,
  flagged as demo data until the operator completes it in the console) owns it.
An issuer none of whose codes a partner owned keeps the partner account it had.

Backwards, every code of an issuer with a partner account becomes a row of the partner table
again; issuers made or split here stay.
"""

from collections import Counter, defaultdict

from django.db import migrations

# The fields a copy of an issuer keeps (code and partner are its own).
ISSUER_FIELDS = (
    "name",
    "brand",
    "province",
    "province_code",
    "hotline",
    "is_demo",
    "tax_id",
    "address_phone",
    "bank_account",
    "machine_no",
)


def carry_over(apps, schema_editor):
    Issuer = apps.get_model("cards", "Issuer")
    IssuerNetworkCode = apps.get_model("cards", "IssuerNetworkCode")
    Card = apps.get_model("cards", "Card")
    PartnerNetworkCode = apps.get_model("accounts", "PartnerNetworkCode")

    owner_of = dict(PartnerNetworkCode.objects.values_list("code", "partner_id"))
    if not owner_of:
        return
    configured = dict(IssuerNetworkCode.objects.values_list("code", "issuer_id"))

    # Codes that only a partner claimed: an issuer of that partner owns them.
    for code in sorted(set(owner_of) - set(configured)):
        partner_id = owner_of[code]
        partner = PartnerNetworkCode.objects.select_related("partner").get(code=code).partner
        issuer, _created = Issuer.objects.get_or_create(
            code=f"partner-{partner_id}",
            defaults={
                "name": partner.name[:100],
                "brand": partner.name[:32],
                "province": "",
                "province_code": code[:2],
                "is_demo": True,
                "partner_id": partner_id,
            },
        )
        IssuerNetworkCode.objects.create(code=code, issuer=issuer)
        configured[code] = issuer.pk

    codes_of = defaultdict(list)
    for code, issuer_id in configured.items():
        codes_of[issuer_id].append(code)
    for issuer in Issuer.objects.filter(pk__in=codes_of).order_by("pk"):
        codes = sorted(codes_of[issuer.pk])
        owners = {code: owner_of.get(code) for code in codes}
        claimed = Counter(owner for owner in owners.values() if owner is not None)
        if not claimed:
            continue  # no partner owned its codes: it keeps the partner account it had
        # The partner owning most of its codes keeps the issuer (the lowest id on a tie).
        keeper = min(claimed, key=lambda owner: (-claimed[owner], owner))
        if issuer.partner_id != keeper:
            issuer.partner_id = keeper
            issuer.save(update_fields=["partner"])
        others = defaultdict(list)
        for code in codes:
            if owners[code] != keeper:
                others[owners[code]].append(code)
        for n, (owner, moved) in enumerate(sorted(others.items(), key=lambda kv: kv[1]), start=1):
            copy = Issuer.objects.create(
                code=f"{issuer.code}-{n}"[:32],
                partner_id=owner,
                **{field: getattr(issuer, field) for field in ISSUER_FIELDS},
            )
            IssuerNetworkCode.objects.filter(code__in=moved).update(issuer=copy)
            for code in moved:
                Card.objects.filter(card_no__startswith=code, issuer=issuer).update(issuer=copy)


def carry_back(apps, schema_editor):
    IssuerNetworkCode = apps.get_model("cards", "IssuerNetworkCode")
    PartnerNetworkCode = apps.get_model("accounts", "PartnerNetworkCode")
    rows = IssuerNetworkCode.objects.filter(issuer__partner__isnull=False).values_list("code", "issuer__partner_id")
    PartnerNetworkCode.objects.bulk_create(
        [PartnerNetworkCode(code=code, partner_id=partner_id) for code, partner_id in rows], ignore_conflicts=True
    )


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0009_bulk_binding"),
        ("accounts", "0006_sms_code_client"),
    ]

    operations = [migrations.RunPython(carry_over, carry_back)]
