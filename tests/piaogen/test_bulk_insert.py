"""The bulk writers of piaogen.bulk: every column stored as given, ids set, the same result on
PostgreSQL (COPY) and elsewhere (bulk_create); models with other column types fall back."""

import pytest
from django.db import connection

from invoices.models import ApplicationEvent, Operator
from piaogen.bulk import _copyable, insert_dicts, insert_rows


def operator_row(code: str, **extra) -> dict:
    template = Operator(code=code, name=f"演示经营单位{code}", tax_id="91410100MA00000000", province_code="4100")
    row = {f.attname: getattr(template, f.attname) for f in Operator._meta.concrete_fields if not f.primary_key}
    row.update(extra)
    return row


@pytest.mark.django_db
def test_insert_dicts_stores_every_column_and_sets_ids():
    rows = insert_dicts(Operator, [operator_row("B1", machine_no="499000000001"), operator_row("B2")])
    assert all(isinstance(r["id"], int) for r in rows) and rows[0]["id"] != rows[1]["id"]
    stored = Operator.objects.get(pk=rows[0]["id"])
    assert (stored.code, stored.name, stored.machine_no) == ("B1", "演示经营单位B1", "499000000001")
    assert Operator.objects.get(pk=rows[1]["id"]).code == "B2"
    # the table's own sequence moved past them: the ORM's next insert does not collide
    later = Operator.objects.create(code="B3", name="演示经营单位B3", tax_id="91410100MA00000000", province_code="4100")
    assert later.pk not in {r["id"] for r in rows}


@pytest.mark.django_db
def test_insert_rows_takes_tuples_in_column_order():
    columns = [f.attname for f in Operator._meta.concrete_fields if not f.primary_key]
    row = operator_row("C1", phone="0371-00000000")
    insert_rows(Operator, columns, [tuple(row[c] for c in columns)])
    stored = Operator.objects.get(code="C1")
    assert (stored.name, stored.phone, stored.province_code) == ("演示经营单位C1", "0371-00000000", "4100")


def test_models_with_json_columns_never_go_to_copy():
    assert not _copyable(ApplicationEvent)  # its detail is JSON: bulk_create prepares it
    assert _copyable(Operator) == (connection.vendor == "postgresql")


def test_nothing_to_write_touches_no_database():
    assert insert_dicts(Operator, []) == [] and insert_rows(Operator, ["code"], []) is None


TRICKY = ['a"b', "c\\d", "x,y", "{z}", " lead", "NULL", "", "票根\u3000通行", 'end\\"', "tab\there"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's array text")
@pytest.mark.django_db
def test_an_array_literal_reads_back_as_the_values_it_was_written_from():
    from piaogen.bulk import array_literal

    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::text[]", [array_literal(TRICKY)])
        assert cursor.fetchone()[0] == TRICKY
        cursor.execute("SELECT %s::bigint[]", [array_literal([3, 10**15, -7])])
        assert cursor.fetchone()[0] == [3, 10**15, -7]
        cursor.execute("SELECT cardinality(%s::text[])", [array_literal([])])
        assert cursor.fetchone()[0] == 0
    with pytest.raises(TypeError):
        array_literal([1, "2"])
    with pytest.raises(TypeError):
        array_literal(["1", 2])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY")
@pytest.mark.django_db
def test_copy_lines_in_pieces_writes_every_row_once_in_order():
    from piaogen.bulk import copy_lines, copy_text, in_pieces

    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE piece_test (n int, t text)")
        lines = (f"{n}\t{copy_text(TRICKY[n % len(TRICKY)])}\n" for n in range(2345))
        pieces = list(in_pieces(lines, size=1000))
        assert [p.count("\n") for p in pieces] == [1000, 1000, 345]  # whole rows a piece
        copy_lines("piece_test", "n, t", iter(pieces))
        cursor.execute("SELECT n, t FROM piece_test ORDER BY n")
        assert cursor.fetchall() == [(n, TRICKY[n % len(TRICKY)]) for n in range(2345)]
