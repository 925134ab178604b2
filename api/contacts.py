"""Writing contacts and DND numbers in batches, and streaming CSV imports into them.

CSV files come either uploaded in the request (multipart field ``file``) or by
name from UPLOAD_DIR (standing in for the seed's S3 bucket). They are read row
by row, written 1000 rows per transaction, so a file of millions of rows never
sits in memory. A bad row is reported by its line number and skipped; good
rows are kept.

CSV layout: a header row naming the columns (``contact_number`` / ``number`` /
``phone``, ``contact_name`` / ``name``, any other column becomes a contact
field, e.g. ``field1``), or no header: number, name, then field1, field2, ...
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from dataclasses import dataclass, field
from typing import IO, Iterable, Iterator

from flask import request
from sqlalchemy import insert, select

from api import store
from api.errors import ApiError
from api.schemas import parse_phone
from dialer.store.models import Contact, DndNumber

BATCH = 1000
#: At most this many bad rows are listed in the answer (all are counted).
MAX_REPORTED_ERRORS = 100
NUMBER_COLUMNS = ("contact_number", "dnd_contact_number", "number", "phone", "phone_number", "mobile", "msisdn")
NAME_COLUMNS = ("contact_name", "dnd_contact_name", "name")


@dataclass
class ImportResult:
    """How a CSV import went: rows kept, rows refused, and the first refusals by line."""

    imported: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)

    def reject(self, line: int, reason: str) -> None:
        """Count a bad row; list it while the list is short."""
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"line": line, "reason": reason})


def _dedupe(rows: Iterable[tuple]) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for row in rows:
        out[row[0]] = row  # the last occurrence of a number wins
    return out


def save_contacts(list_id: str, rows: Iterable[tuple[str, str, dict]]) -> int:
    """Insert or update ``(number, name, fields)`` contacts of a list; returns how many were written."""
    by_number = _dedupe(rows)
    if not by_number:
        return 0
    with store.session() as s:
        existing = {c.number: c for c in s.scalars(
            select(Contact).where(Contact.list_id == list_id, Contact.number.in_(list(by_number))))}
        new_rows = []
        for number, (num, name, fields) in by_number.items():
            if number in existing:
                existing[number].name = name or existing[number].name
                existing[number].fields = {**(existing[number].fields or {}), **fields}
            else:
                new_rows.append({"list_id": list_id, "number": num, "name": name or "", "fields": fields or {},
                                 "alt_numbers": []})
        if new_rows:
            s.execute(insert(Contact), new_rows)
    return len(by_number)


def save_dnd_numbers(dnd_list_id: str, rows: Iterable[tuple[str, str]]) -> int:
    """Insert ``(number, name)`` into a DND list (a number already there is kept once); returns the count."""
    by_number = _dedupe(rows)
    if not by_number:
        return 0
    with store.session() as s:
        existing = set(s.scalars(select(DndNumber.number).where(
            DndNumber.dnd_list_id == dnd_list_id, DndNumber.number.in_(list(by_number)))))
        new_rows = [{"dnd_list_id": dnd_list_id, "number": n, "name": r[1] or ""}
                    for n, r in by_number.items() if n not in existing]
        if new_rows:
            s.execute(insert(DndNumber), new_rows)
    return len(by_number)


@contextlib.contextmanager
def open_csv(name: str | None, field_name: str) -> Iterator[IO[str]]:
    """The CSV as text: the uploaded ``file`` part, else ``name`` inside UPLOAD_DIR (no path tricks)."""
    upload = None
    if request.files:
        upload = request.files.get("file") or next(iter(request.files.values()))
    if upload is not None:
        text = io.TextIOWrapper(upload.stream, encoding="utf-8-sig", errors="replace", newline="")
        try:
            yield text
        finally:
            text.detach()
        return
    if not name:
        raise ApiError(f"{field_name}: is required (or upload the file as multipart field 'file')",
                       field=field_name)
    base = os.path.realpath(store.cfg().path(store.cfg().upload_dir))
    if os.path.basename(name) != name or name in (".", "..") or "\x00" in name:
        raise ApiError(f"{field_name}: must be a plain file name inside the upload directory", field=field_name)
    path = os.path.realpath(os.path.join(base, name))
    if os.path.dirname(path) != base or not os.path.isfile(path):
        raise ApiError(f"{field_name}: no file {name!r} in the upload directory", kind="not_found",
                       field=field_name)
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        yield fh


def _rows(fh: IO[str]) -> Iterator[tuple[int, list[str], dict[str, int] | None]]:
    """(line number, cells, header index or None) for every non-empty row."""
    reader = csv.reader(fh)
    header: dict[str, int] | None = None
    first = True
    try:
        for cells in reader:
            line = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            if first:
                first = False
                lowered = [c.strip().lower() for c in cells]
                if any(c in NUMBER_COLUMNS for c in lowered):
                    header = {c: i for i, c in enumerate(lowered)}
                    continue
            yield line, cells, header
    except csv.Error as exc:
        raise ApiError(f"CSV is malformed at line {reader.line_num}: {exc}") from None


def _parse_row(cells: list[str], header: dict[str, int] | None, region: str) -> tuple[str, str, dict]:
    if header is None:
        number_raw = cells[0]
        name = cells[1].strip() if len(cells) > 1 else ""
        fields = {f"field{i}": c.strip() for i, c in enumerate(cells[2:], start=1)}
    else:
        num_col = next(header[c] for c in NUMBER_COLUMNS if c in header)
        name_col = next((header[c] for c in NAME_COLUMNS if c in header), None)
        number_raw = cells[num_col] if num_col < len(cells) else ""
        name = cells[name_col].strip() if name_col is not None and name_col < len(cells) else ""
        fields = {col: cells[i].strip() for col, i in header.items()
                  if i not in (num_col, name_col) and i < len(cells) and col}
    if not number_raw.strip():
        raise ValueError("the number is empty")
    try:
        number = parse_phone(number_raw.strip(), region)
    except ValueError as exc:
        raise ValueError(f"number {number_raw.strip()[:32]!r} {exc}") from None
    return number, name[:200], fields


def _import(fh: IO[str], write, dnd: bool) -> ImportResult:
    result = ImportResult()
    region = store.cfg().default_region
    batch: list[tuple] = []
    try:
        for line, cells, header in _rows(fh):
            try:
                number, name, fields = _parse_row(cells, header, region)
            except ValueError as exc:
                result.reject(line, str(exc))
                continue
            batch.append((number, name) if dnd else (number, name, fields))
            if len(batch) >= BATCH:
                result.imported += write(batch)
                batch = []
    except ApiError as exc:
        # Earlier batches are written already: the rows read before the malformed line are kept too (not
        # the one batch of them that happened not to be written yet), and the refusal says how many.
        if batch:
            result.imported += write(batch)
        raise ApiError(f"{exc.message}; the {result.imported} valid rows before it were imported") from None
    if batch:
        result.imported += write(batch)
    return result


def import_contacts_csv(list_id: str, fh: IO[str]) -> ImportResult:
    """Stream a contacts CSV into ``list_id``."""
    return _import(fh, lambda rows: save_contacts(list_id, rows), dnd=False)


def import_dnd_csv(dnd_list_id: str, fh: IO[str]) -> ImportResult:
    """Stream a DND CSV into ``dnd_list_id``."""
    return _import(fh, lambda rows: save_dnd_numbers(dnd_list_id, rows), dnd=True)
