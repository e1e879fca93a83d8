"""Lists of card numbers for bulk binding (批量绑卡), as a clerk brings them: pasted into a text
box (one number a line) or uploaded as a CSV or an Excel (.xlsx) file (the first column).

Pure: bytes and text in, a list of entries out, one entry a line or row (blank ones kept, so
that the line numbers the service reports are those of the clerk's list). What a line says is
judged by ``cards.services.bulk_binding.bulk_binding_start``.
"""

from __future__ import annotations

import csv
import io
import zipfile

from django.utils.translation import gettext as _

from piaogen.errors import ServiceError

MAX_UPLOAD_BYTES = 1024 * 1024  # 500 card numbers take about 11 KB; a spreadsheet a few more
# Rows read from an upload at most: beyond the cap, only "too many" needs telling.
MAX_ROWS = 5000
HEADER_WORDS = ("卡号", "card", "etc")


def _invalid(message: str) -> ServiceError:
    return ServiceError("invalid", message, errors={"file": [message]})


def parse_text(text: str) -> list[str]:
    """One entry a line of the text box (a number printed in groups, with spaces, is one)."""
    return [line.strip() for line in (text or "").splitlines()[:MAX_ROWS]]


def _first_cells(rows) -> list[str]:
    entries: list[str] = []
    for index, row in enumerate(rows):
        if index >= MAX_ROWS:
            break
        cell = next((c for c in row if c not in (None, "")), None) if row else None
        entries.append(_cell_text(cell))
    if entries and _is_header(entries[0]):
        entries[0] = ""  # a heading such as 卡号 or card_no is no card (its line stays counted)
    return entries


def _is_header(text: str) -> bool:
    lowered = text.lower()
    return not any(ch.isdigit() for ch in text) and any(word in lowered for word in HEADER_WORDS)


def _cell_text(cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, (bool, int)):
        return str(cell)
    if isinstance(cell, float):
        # Excel keeps numbers as doubles (15 significant digits): a 20-digit card number typed
        # into a number cell has already lost its last digits. Said on that line.
        return f"{cell:.0f}" if cell.is_integer() and abs(cell) < 1e15 else f"{cell!r}"
    return str(cell).strip()


def parse_csv(data: bytes) -> list[str]:
    """The first non-empty cell of each row. UTF-8 (with or without BOM), else GB 18030, the
    encoding Excel on a Chinese Windows saves CSV in."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes every byte string
        raise _invalid(_("无法读取该CSV文件的编码，请另存为UTF-8编码的CSV后再上传。"))
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        raise _invalid(_("无法读取该CSV文件，请检查文件内容：每行一个卡号。")) from None
    return _first_cells(rows)


def parse_xlsx(data: bytes) -> list[str]:
    """The first non-empty cell of each row of the first worksheet (openpyxl, read-only)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise _invalid(_("无法读取该Excel文件，请确认是 .xlsx 格式（Excel 2007 及以上）。")) from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            return []
        return _first_cells(sheet.iter_rows(values_only=True, max_row=MAX_ROWS))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise _invalid(_("无法读取该Excel文件，请确认是 .xlsx 格式（Excel 2007 及以上）。")) from None
    finally:
        book.close()


def parse_upload(name: str, data: bytes) -> list[str]:
    """A CSV (.csv, .txt) or Excel (.xlsx) file's entries; refuses other kinds and big files."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise _invalid(_("文件不能超过 %(kb)s KB，请分批上传。") % {"kb": MAX_UPLOAD_BYTES // 1024})
    lowered = (name or "").lower()
    if lowered.endswith(".xlsx"):
        return parse_xlsx(data)
    if lowered.endswith((".csv", ".txt")):
        return parse_csv(data)
    raise _invalid(_("请上传 CSV（.csv）或 Excel（.xlsx）文件；旧版 .xls 请先另存为 .xlsx。"))
