"""Lists as files for Excel: task lists, petition lists and the metrics, as .xlsx or .csv.

The rows come from the same service calls the pages use (so the same filters and the same jurisdiction apply);
this module only writes them. Both writers stream: CSV row by row, .xlsx through XlsxWriter's constant-memory
mode into a temporary file that is then sent in chunks, so ten thousand rows never sit in memory as a sheet.
CSV starts with a UTF-8 byte order mark, without which Excel reads UTF-8 Chinese as mojibake.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

import xlsxwriter

from .models import Petition, Task
from .vocabulary import CATEGORY_LABELS, CHANNEL_LABELS, GROUP_LABELS, STATUS_LABELS

# (header, value of a row)
Column = tuple[str, Callable[[Any], Any]]
FORMATS = ("xlsx", "csv")
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
# The most rows one export holds: far above any office's list, low enough that no request runs away.
EXPORT_LIMIT = 200_000
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CHUNK = 64 * 1024


def _yes(value: bool) -> str:
    return "是" if value else "否"


PETITION_COLUMNS: tuple[Column, ...] = (
    ("事项编号", lambda p: p.number),
    ("信访人", lambda p: p.petitioner_name),
    ("渠道", lambda p: CHANNEL_LABELS.get(p.channel, p.channel)),
    ("收到日期", lambda p: p.received_at),
    ("标题", lambda p: p.subject),
    ("类别", lambda p: CATEGORY_LABELS.get(p.category or "", "待定")),
    ("涉及单位", lambda p: p.involved_unit),
    ("问题属地", lambda p: p.place),
    ("人数", lambda p: p.people_count),
    ("重复信访", lambda p: _yes(p.is_repeat)),
    ("重大紧急", lambda p: _yes(p.major_urgent)),
    ("状态", lambda p: STATUS_LABELS.get(p.status, p.status)),
    ("登记人", lambda p: p.registered_by),
    ("登记时间", lambda p: p.registered_at),
    ("办结时间", lambda p: p.closed_at),
)


def task_columns(now: datetime, process_names: dict[str, str]) -> tuple[Column, ...]:
    return (
        ("待办事项", lambda t: t.name or t.element_id),
        ("信访事项编号", lambda t: t.business_key),
        ("流程", lambda t: process_names.get(t.definition_key, t.definition_key)),
        ("候选组", lambda t: "、".join(GROUP_LABELS.get(g, g) for g in t.candidate_groups or [])),
        ("办理人", lambda t: t.assignee),
        ("到期时间", lambda t: t.due_at),
        ("是否超期", lambda t: _yes(t.due_at is not None and t.due_at < now)),
        ("生成时间", lambda t: t.created_at),
    )


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.2f}%"


METRIC_COLUMNS: tuple[Column, ...] = (
    ("单位", lambda r: r.get("unit")),
    ("月份", lambda r: r.get("month")),
    ("登记件数", lambda r: r["registered"]),
    ("化解率", lambda r: _rate(r["resolutionRate"])),
    ("化解件数", lambda r: r["resolved"]),
    ("包案件数", lambda r: r["packaged"]),
    ("按期办结率", lambda r: _rate(r["onTimeRate"])),
    ("按期办结件数", lambda r: r["handledOnTime"]),
    ("办理期限届满件数", lambda r: r["handlingClosed"]),
    ("及时受理率", lambda r: _rate(r["timelyAcceptanceRate"])),
    ("及时受理件数", lambda r: r["acceptedOnTime"]),
    ("受理期限届满件数", lambda r: r["acceptanceClosed"]),
    ("群众满意率", lambda r: _rate(r["satisfactionRate"])),
    ("满意件数", lambda r: r["satisfied"]),
    ("参评件数", lambda r: r["evaluations"]),
)


def _cell(value: Any, tz: tzinfo) -> Any:
    """A value a spreadsheet holds: local time without zone (Excel has none), text without control characters
    (openpyxl refuses them and Excel shows them as codes)."""
    if isinstance(value, datetime):
        return value.astimezone(tz).replace(tzinfo=None)
    if isinstance(value, str):
        return CONTROL.sub("", value)[:32_767]
    return value


def _text(value: Any) -> str:
    """A CSV field: dates as ISO text, and a leading = + - @ quoted so Excel never runs it as a formula."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.strftime("%Y-%m-%d %H:%M")
    elif isinstance(value, date):
        value = value.isoformat()
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def csv_chunks(columns: Sequence[Column], rows: Iterable[Any], tz: tzinfo) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([header for header, _ in columns])
    yield "\ufeff".encode() + buffer.getvalue().encode()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_text(_cell(get(row), tz)) for _, get in columns])
        yield buffer.getvalue().encode()


def xlsx_chunks(columns: Sequence[Column], rows: Iterable[Any], tz: tzinfo, sheet: str) -> Iterator[bytes]:
    with tempfile.TemporaryDirectory(prefix="petitionflow-export-") as folder:
        path = Path(folder) / "export.xlsx"
        workbook = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "default_date_format": "yyyy-mm-dd hh:mm",
            },
        )
        bold = workbook.add_format({"bold": True})
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        worksheet = workbook.add_worksheet(sheet)
        worksheet.freeze_panes(1, 0)
        for col, (header, _) in enumerate(columns):
            worksheet.write_string(0, col, header, bold)
            worksheet.set_column(col, col, max(10, len(header) * 2 + 2))
        for r, row in enumerate(rows, start=1):
            for col, (_, get) in enumerate(columns):
                value = _cell(get(row), tz)
                if value is None:
                    continue
                if isinstance(value, datetime):
                    worksheet.write_datetime(r, col, value)
                elif isinstance(value, date):
                    worksheet.write_datetime(r, col, datetime(value.year, value.month, value.day), day)
                else:
                    worksheet.write(r, col, value)
        workbook.close()
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk


def export(
    fmt: str, columns: Sequence[Column], rows: Iterable[Any], tz: tzinfo, sheet: str
) -> Iterator[bytes]:
    """The rows as ``fmt`` (xlsx or csv), chunk by chunk."""
    if fmt == "csv":
        return csv_chunks(columns, rows, tz)
    return xlsx_chunks(columns, rows, tz, sheet)


def petitions(fmt: str, rows: Iterable[Petition], tz: tzinfo) -> Iterator[bytes]:
    return export(fmt, PETITION_COLUMNS, rows, tz, "信访事项")


def tasks(
    fmt: str, rows: Iterable[Task], tz: tzinfo, now: datetime, names: dict[str, str]
) -> Iterator[bytes]:
    return export(fmt, task_columns(now, names), rows, tz, "待办事项")


def metrics(fmt: str, rows: Iterable[dict[str, Any]], tz: tzinfo) -> Iterator[bytes]:
    return export(fmt, METRIC_COLUMNS, rows, tz, "统计指标")
