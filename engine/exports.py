"""Lists as files for Excel: task lists, petition lists and the metrics, as .xlsx or .csv.

The rows come from the same service calls the pages use (so the same filters and the same jurisdiction apply);
this module only writes them. Both writers stream: CSV row by row, .xlsx through XlsxWriter's constant-memory
mode into a temporary file that is then sent in chunks, so ten thousand rows never sit in memory as a sheet.
CSV starts with a UTF-8 byte order mark, without which Excel reads UTF-8 Chinese as mojibake.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol

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


class _Sink(Protocol):
    """Where export() writes: the header, then each row (what can be sent already comes back), then the rest."""

    def header(self, headers: Sequence[str]) -> bytes: ...

    def row(self, index: int, values: Sequence[Any]) -> bytes: ...

    def close(self) -> Iterator[bytes]: ...


class _CsvSink:
    """Rows as CSV lines, each handed on as soon as it is written."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\r\n")

    def header(self, headers: Sequence[str]) -> bytes:
        self.writer.writerow(headers)
        return "\ufeff".encode() + self._take()

    def row(self, index: int, values: Sequence[Any]) -> bytes:
        self.writer.writerow([_text(v) for v in values])
        return self._take()

    def close(self) -> Iterator[bytes]:
        return iter(())

    def _take(self) -> bytes:
        out = self.buffer.getvalue().encode()
        self.buffer.seek(0)
        self.buffer.truncate()
        return out


class _XlsxSink:
    """Rows into one sheet of a constant-memory workbook in ``folder``, sent in chunks once it is closed."""

    def __init__(self, folder: str, sheet: str) -> None:
        self.path = Path(folder) / "export.xlsx"
        self.workbook = xlsxwriter.Workbook(
            str(self.path),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "default_date_format": "yyyy-mm-dd hh:mm",
            },
        )
        self.day = self.workbook.add_format({"num_format": "yyyy-mm-dd"})
        self.sheet = self.workbook.add_worksheet(sheet)
        self.sheet.freeze_panes(1, 0)

    def header(self, headers: Sequence[str]) -> bytes:
        bold = self.workbook.add_format({"bold": True})
        for col, header in enumerate(headers):
            self.sheet.write_string(0, col, header, bold)
            self.sheet.set_column(col, col, max(10, len(header) * 2 + 2))
        return b""

    def row(self, index: int, values: Sequence[Any]) -> bytes:
        for col, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, datetime):
                self.sheet.write_datetime(index, col, value)
            elif isinstance(value, date):
                self.sheet.write_datetime(index, col, datetime(value.year, value.month, value.day), self.day)
            else:
                self.sheet.write(index, col, value)
        return b""

    def close(self) -> Iterator[bytes]:
        self.workbook.close()
        with self.path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk


def export(
    fmt: str, columns: Sequence[Column], rows: Iterable[Any], tz: tzinfo, sheet: str
) -> Iterator[bytes]:
    """The rows as ``fmt`` (xlsx or csv), chunk by chunk: one pass over the rows, into the format's sink."""
    with contextlib.ExitStack() as stack:
        sink: _Sink = (
            _CsvSink()
            if fmt == "csv"
            else _XlsxSink(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="petitionflow-export-")), sheet
            )
        )
        if head := sink.header([header for header, _ in columns]):
            yield head
        for index, row in enumerate(rows, start=1):
            if line := sink.row(index, [_cell(get(row), tz) for _, get in columns]):
                yield line
        yield from sink.close()


def petitions(fmt: str, rows: Iterable[Petition], tz: tzinfo) -> Iterator[bytes]:
    return export(fmt, PETITION_COLUMNS, rows, tz, "信访事项")


def tasks(
    fmt: str, rows: Iterable[Task], tz: tzinfo, now: datetime, names: dict[str, str]
) -> Iterator[bytes]:
    return export(fmt, task_columns(now, names), rows, tz, "待办事项")


def metrics(fmt: str, rows: Iterable[dict[str, Any]], tz: tzinfo) -> Iterator[bytes]:
    return export(fmt, METRIC_COLUMNS, rows, tz, "统计指标")
