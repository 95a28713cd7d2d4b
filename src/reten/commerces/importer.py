"""`reten commerces import`: load a CSV or JSON file of commerces through the sync service.

The file is cut into chunks of at most 1000 items, each written by the same code as
POST /api/commerces/sync (all or nothing per chunk). A chunk refused by validation is retried
without its bad items, so one bad row costs that row only; each rejected row is reported with
its line number. docs/commerces.md describes the file formats.
"""

from __future__ import annotations

import csv
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reten.commerces import sync
from reten.commerces.schemas import CommerceSyncItem
from reten.kit.db import Database
from reten.kit.errors import AppError
from reten.kit.sync import MAX_SYNC_ITEMS, SyncRejected, parse_sync

CSV_COLUMNS = ("external_id", "name", "tax_id", "global_external_id", "is_active")
ADDRESS_COLUMNS = (
    "street", "street_number", "city", "commune", "region", "country_code", "latitude",
    "longitude", "formatted_address",
)  # fmt: skip
IMPORT_SOURCE_REF = "import"
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


class ImportFileError(Exception):
    """The file cannot be read as a whole (not a list of items, unknown format, bad header)."""


@dataclass(frozen=True)
class SourceItem:
    line: int
    data: Any


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    # (line, message) of every rejected row, in file order
    errors: list[tuple[int, str]] = field(default_factory=list)


def read_file(path: Path) -> list[SourceItem]:
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(f"cannot read {path}: {exc}") from None
    if suffix == ".json":
        return read_json(text)
    if suffix == ".csv":
        return read_csv(text)
    raise ImportFileError(f"{path.name}: expected a .csv or .json file")


# --- CSV ---------------------------------------------------------------------------------------


def _cell(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _number(value: str) -> Any:
    try:
        return float(value)
    except ValueError:
        return value  # reported by validation with the row's line


def read_csv(text: str) -> list[SourceItem]:
    reader = csv.DictReader(text.splitlines(keepends=True))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ("external_id", "name") if c not in header]
    if missing:
        raise ImportFileError(f"CSV header lacks the column(s) {', '.join(missing)}")
    reader.fieldnames = header
    items = []
    for row in reader:
        item: dict[str, Any] = {}
        for column in CSV_COLUMNS:
            value = _cell(row.get(column))
            if value is None:
                continue  # an empty cell is "not given": a re-import never clears a field
            if column == "is_active":
                item[column] = _BOOLEANS.get(value.lower(), value)
            else:
                item[column] = value
        address: dict[str, Any] = {}
        for column in ADDRESS_COLUMNS:
            value = _cell(row.get(column))
            if value is not None:
                address[column] = _number(value) if column in ("latitude", "longitude") else value
        if address:
            item["addresses"] = [{**address, "source_ref": IMPORT_SOURCE_REF, "is_primary": True}]
        items.append(SourceItem(reader.line_num, item))
    return items


# --- JSON --------------------------------------------------------------------------------------


class _Scanner:
    """Walks a JSON document just enough to know the line where each item starts."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.decoder = json.JSONDecoder()

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def _expect(self, char: str) -> None:
        self._skip()
        if self.text[self.pos : self.pos + 1] != char:
            raise ValueError(f"expected {char!r}")
        self.pos += 1

    def _peek(self) -> str:
        self._skip()
        return self.text[self.pos : self.pos + 1]

    def _value(self) -> Any:
        self._skip()
        value, self.pos = self.decoder.raw_decode(self.text, self.pos)
        return value

    def line(self) -> int:
        return self.text.count("\n", 0, self.pos) + 1

    def array(self) -> list[SourceItem]:
        self._expect("[")
        items: list[SourceItem] = []
        if self._peek() == "]":
            self.pos += 1
            return items
        while True:
            self._skip()
            line = self.line()
            items.append(SourceItem(line, self._value()))
            if self._peek() == ",":
                self.pos += 1
                continue
            self._expect("]")
            return items

    def document(self) -> list[SourceItem]:
        if self._peek() == "[":
            items = self.array()
        elif self._peek() == "{":
            self.pos += 1
            found: list[SourceItem] | None = None
            while self._peek() != "}":
                key = self._value()
                self._expect(":")
                if key == "items" and self._peek() == "[":
                    found = self.array()
                else:
                    self._value()
                if self._peek() == ",":
                    self.pos += 1
            self.pos += 1
            if found is None:
                raise ImportFileError('a JSON object must hold the list under "items"')
            items = found
        else:
            raise ImportFileError('expected a JSON list of commerces or {"items": [...]}')
        if self._peek():
            raise ValueError("extra data after the document")
        return items


def read_json(text: str) -> list[SourceItem]:
    try:
        json.loads(text)  # the precise message for a file that is not JSON at all
        return _Scanner(text).document()
    except (ValueError, IndexError) as exc:
        raise ImportFileError(f"not valid JSON: {exc}") from None


# --- loading -----------------------------------------------------------------------------------


_ITEM_REF = re.compile(r"items\[(\d+)\]")


def _describe(problems: list[dict[str, str]], pending: list[SourceItem]) -> str:
    """One line per rejected row; "items[3]" in a message becomes the line of that row."""

    def line_of(match: re.Match[str]) -> str:
        return f"line {pending[int(match.group(1))].line}"

    return "; ".join(
        _ITEM_REF.sub(line_of, f"{p['field']}: {p['message']}" if p["field"] else p["message"])
        for p in problems
    )


def _repeated_rows(items: list[SourceItem], report: ImportReport) -> list[SourceItem]:
    """Drop rows whose external_id an earlier row of the file has, wherever they fall, so a
    repeat is an error whether or not it lands in the same chunk as the first one."""
    first: dict[str, int] = {}
    kept = []
    for item in items:
        key = item.data.get("external_id") if isinstance(item.data, dict) else None
        if isinstance(key, str) and key.strip():
            key = key.strip()
            if key in first:
                report.errors.append((item.line, f"external_id: repeats line {first[key]}"))
                continue
            first[key] = item.line
        kept.append(item)
    return kept


async def import_items(
    db: Database,
    tenant_id: uuid.UUID,
    items: list[SourceItem],
    *,
    chunk_size: int = MAX_SYNC_ITEMS,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    report = ImportReport()
    repeated = len(items)
    items = _repeated_rows(items, report)
    if on_progress is not None and repeated > len(items):
        on_progress(repeated - len(items))
    for start in range(0, len(items), chunk_size):
        chunk = items[start : start + chunk_size]
        pending = list(chunk)
        while pending:
            batch = parse_sync(CommerceSyncItem, {"items": [item.data for item in pending]})
            try:
                async with db.sessionmaker() as session:
                    result = await sync.sync(session, tenant_id, batch)
            except SyncRejected as exc:
                for index, problems in exc.by_item.items():
                    report.errors.append((pending[index].line, _describe(problems, pending)))
                pending = [item for i, item in enumerate(pending) if i not in exc.by_item]
                continue
            except AppError as exc:
                # Not about one item (a concurrent writer took a key): the chunk is not loaded.
                report.errors += [(item.line, exc.message) for item in pending]
                break
            report.created += result.created
            report.updated += result.updated
            break
        if on_progress is not None:
            on_progress(len(chunk))
    report.errors.sort()
    return report
