# Every partner row has an owner, the partner that pushed it (``pushed_by``), and only the owner
# changes it. Until now a push of another partner's id re-assigned ``pushed_by``; this gives each
# existing row the owner that can be known:
# - an operator: the partner that created it (its first history record);
# - a recharge: the issuer owning its card's network code (recharges are only ever accepted from
#   that issuer);
# - a trip with no owner recorded: the clearing centre, when there is exactly one.
# Rows whose owner cannot be known keep none and are refused to every partner (docs/partners-trips.md).
#
# The big tables are updated in ranges of ids, each range its own short statement and
# transaction (atomic = False), so no long lock and no long transaction.

from django.db import migrations

STEP = 50_000


def _ranges(cursor, table):
    cursor.execute(f"SELECT MIN(id), MAX(id) FROM {table}")  # noqa: S608 - our table names
    low, high = cursor.fetchone()
    if low is None:
        return
    for start in range(low, high + 1, STEP):
        yield start, start + STEP


def forwards(apps, schema_editor):
    Operator = apps.get_model("invoices", "Operator")
    HistoricalOperator = apps.get_model("invoices", "HistoricalOperator")
    Partner = apps.get_model("accounts", "Partner")
    for operator in Operator.objects.all().only("id", "pushed_by_id"):
        first = (
            HistoricalOperator.objects.filter(id=operator.id, history_type="+")
            .order_by("history_date", "history_id")
            .values_list("pushed_by_id", flat=True)
            .first()
        )
        if first is not None and first != operator.pushed_by_id:
            Operator.objects.filter(pk=operator.pk).update(pushed_by_id=first)

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for start, end in _ranges(cursor, "invoices_recharge"):
            cursor.execute(
                "UPDATE invoices_recharge SET pushed_by_id = COALESCE(("
                " SELECT n.partner_id FROM cards_card c JOIN accounts_partnernetworkcode n"
                " ON n.code = SUBSTR(c.card_no, 1, 4) WHERE c.id = invoices_recharge.card_id"
                "), pushed_by_id) WHERE id >= %s AND id < %s",
                [start, end],
            )
        clearing = list(Partner.objects.filter(kind="clearing").values_list("id", flat=True)[:2])
        if len(clearing) == 1:
            for start, end in _ranges(cursor, "invoices_transit"):
                cursor.execute(
                    "UPDATE invoices_transit SET pushed_by_id = %s WHERE id >= %s AND id < %s AND pushed_by_id IS NULL",
                    [clearing[0], start, end],
                )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0003_cross_partner_refusal"),
        ("cards", "0004_issuer_seller"),
        ("invoices", "0004_invoice_user_recent"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
