"""Backfilling a program from a store's history (`loyalty import orders|customers FILE.csv`).

Rows are checked by the same validation as recordOrder and enrollCustomer; a bad row is
reported with its line number and the rest go on. Idempotent on the order's and the
customer's id, so an import that stopped half way is resumed by running it again: what is
there is skipped. Without `award`, batches are written in bulk (persistence.imports); with
it, each order is recorded by app.orders as of when it was placed, so the rules in force
award its points and pending days and expiry date from then.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from app import bulk_import
from app.clock import as_of, utcnow
from app.customers import enroll_customer
from app.import_formats import Columns, missing_columns
from app.orders import record_order
from domain.customers import EnrollmentInput, validate_enrollment
from domain.errors import DomainError, DomainErrors, ErrorCode
from domain.orders import OrderInput, OrderLineInput, ValidOrder, validate_order
from persistence.imports import CustomerRow, OrderRow
from persistence.unit_of_work import UnitOfWork
from rules import Program

BATCH = 5000

Progress = Callable[[int, int], None]
"""Called with (lines read, lines in the file) after each batch."""


@dataclass
class ImportReport:
    imported: int = 0
    skipped: int = 0
    """Already there: imported before, or recorded through the API."""
    bad: list[tuple[int, str]] = field(default_factory=list)
    """(line, what is wrong), in file order."""


def _messages(error: DomainError) -> list[str]:
    errors = error.errors if isinstance(error, DomainErrors) else [error]
    return [f"{'.'.join(e.field or [])}: {e.message}" if e.field else e.message for e in errors]


def _time(text: str, what: str) -> datetime:
    """ISO 8601, or Shopify's `2024-01-15 10:23:45 -0500`; a time without zone is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
        except ValueError:
            raise DomainError(ErrorCode.INVALID, f"{text!r} is not a date and time.", [what]) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


Row = tuple[int, dict[str, str | None]]
"""A record's line number in the file, and its fields by column name."""

ORDER_COLUMNS = ("order_id", "placed_at", "currency", "sku", "quantity")


def check_header(path: Path, cols: Columns, header: list[str], required: tuple[str, ...]) -> None:
    missing = missing_columns(cols, header, required)
    if missing:
        raise DomainError(ErrorCode.REQUIRED, f"{path}: no column for {', '.join(missing)}.", ["file"])


def _rows(path: Path, cols: Columns, required: tuple[str, ...]) -> Iterator[Row]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        check_header(path, cols, list(reader.fieldnames or []), required)
        for row in reader:
            yield reader.line_num, row


@dataclass
class _Order:
    line: int
    data: OrderInput
    email: str


def _line(cols: Columns, row: dict[str, str | None]) -> OrderLineInput:
    try:
        quantity = int(cols.get(row, "quantity") or "0")
    except ValueError:
        text = cols.get(row, "quantity")
        raise DomainError(ErrorCode.INVALID_QUANTITY, f"{text!r} is not a whole number.", ["quantity"]) from None
    price = cols.get(row, "unit_price")
    total = cols.get(row, "line_total")
    if not price and total and quantity > 0:
        try:
            price = str((Decimal(total) / quantity).quantize(Decimal("0.0001")).normalize())
        except InvalidOperation:
            raise DomainError(ErrorCode.INVALID_PRICE, f"{total!r} is not a number.", ["line_total"]) from None
    return OrderLineInput(
        sku=cols.get(row, "sku"), quantity=quantity, unit_price=price, category=cols.get(row, "category") or None
    )


def _orders(rows: Iterable[Row], cols: Columns, report: ImportReport) -> Iterator[tuple[int, _Order]]:
    """Consecutive rows with one order id make one order; each order once per file."""
    seen: set[str] = set()
    current: _Order | None = None
    lines: list[OrderLineInput] = []
    broken = False

    def finish() -> _Order | None:
        if current is None or broken:
            return None
        return _Order(current.line, OrderInput(**{**vars(current.data), "lines": tuple(lines)}), current.email)

    for number, row in rows:
        # Shopify names orders `#1001`; an id starts with a letter or digit.
        order_id = cols.get(row, "order_id").removeprefix("#")
        if current is None or order_id != current.data.external_id:
            done = finish()
            if done:
                yield number, done
            current, lines, broken = None, [], False
            try:
                if order_id in seen:
                    raise DomainError(ErrorCode.INVALID_ID, f"order {order_id!r} is not on consecutive rows.", [])
                seen.add(order_id)
                shipping = cols.get(row, "shipping") or None
                current = _Order(
                    number,
                    OrderInput(
                        external_id=order_id,
                        customer_external_id=cols.customer_id(row),
                        currency=cols.get(row, "currency"),
                        lines=(),
                        placed_at=_time(cols.get(row, "placed_at"), "placed_at"),
                        shipping_amount=shipping,
                    ),
                    cols.get(row, "email"),
                )
            except DomainError as error:
                report.bad.extend((number, m) for m in _messages(error))
                current, broken = _Order(number, OrderInput(order_id, "", "", ()), ""), True
                continue
        if broken:
            continue
        try:
            lines.append(_line(cols, row))
        except DomainError as error:
            report.bad.extend((number, m) for m in _messages(error))
            broken = True
    done = finish()
    if done:
        yield 0, done


async def import_orders(
    uow: UnitOfWork,
    program: Program,
    path: Path,
    cols: Columns,
    *,
    award: bool = False,
    progress: Progress | None = None,
    bulk: bool = True,
) -> ImportReport:
    """`bulk`: on PostgreSQL, let the database check and write the plain orders
    (app.bulk_import); tests turn it off to compare with the path it shortcuts."""
    report = ImportReport()
    total = _count_lines(path)
    rows: Iterable[Row] | None = None
    if bulk and not award:
        with path.open(newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), [])
        check_header(path, cols, header, ORDER_COLUMNS)
        # What the database checked and wrote itself; the rest comes back for validate_order.
        rows = await bulk_import.import_orders(uow, program, path, header, cols, report, total, progress)
    if rows is None:
        rows = _rows(path, cols, ORDER_COLUMNS)
    entry = program.tier_for(0, Decimal(0))
    batch: list[OrderRow] = []
    awarded = 0

    async def flush(read: int) -> None:
        if batch:
            async with uow.transaction() as session:
                new = await session.imports.write_orders(batch, entry.name if entry else None, utcnow())
            report.imported += new
            report.skipped += len(batch) - new
            batch.clear()
        if progress:
            progress(read, total)

    for read, order in _orders(rows, cols, report):
        try:
            valid = validate_order(order.data, program.exchange)
        except DomainError as error:
            report.bad.extend((order.line, m) for m in _messages(error))
            continue
        if award:
            await _award(uow, program, valid, order, report)
            awarded += 1
            if progress and awarded % 100 == 0:
                progress(read or total, total)
            continue
        batch.append(_row(valid, order.email))
        if len(batch) >= BATCH:
            await flush(read)
    await flush(total)
    report.bad.sort()
    return report


def _row(order: ValidOrder, email: str) -> OrderRow:
    facts, converted = order.facts, order.converted
    assert order.placed_at is not None
    return OrderRow(
        external_id=order.external_id,
        customer_external_id=order.customer_external_id,
        email=email,
        currency=facts.currency,
        placed_at=order.placed_at,
        subtotal=facts.subtotal,
        shipping_amount=facts.shipping_amount,
        request_hash=order.request_hash,
        program_currency=converted.program_currency,
        program_subtotal=converted.subtotal,
        exchange_rate=converted.rate,
        lines=[(line.sku, line.category, line.quantity, line.unit_price) for line in facts.lines],
    )


async def _award(uow: UnitOfWork, program: Program, valid: ValidOrder, order: _Order, report: ImportReport) -> None:
    """Through recordOrder's use case, as of when the order was placed."""
    assert valid.placed_at is not None
    with as_of(valid.placed_at):
        try:
            async with uow.reading() as session:
                enrolled = await session.customers.find_customer(valid.customer_external_id) is not None
            if not enrolled:
                await enroll_customer(
                    UnitOfWork.of_task(),
                    program,
                    EnrollmentInput(external_id=valid.customer_external_id, email=order.email),
                )
            result = await record_order(uow, program, order.data)
        except DomainError as error:
            report.bad.extend((order.line, m) for m in _messages(error))
            return
    if result.replayed:
        report.skipped += 1
    else:
        report.imported += 1


async def import_customers(
    uow: UnitOfWork, program: Program, path: Path, cols: Columns, *, progress: Progress | None = None
) -> ImportReport:
    report = ImportReport()
    total = _count_lines(path)
    entry = program.tier_for(0, Decimal(0))
    now = utcnow()
    batch: list[CustomerRow] = []
    seen: set[str] = set()

    async def flush(read: int) -> None:
        if batch:
            async with uow.transaction() as session:
                new = await session.imports.write_customers(batch, entry.name if entry else None)
            report.imported += new
            report.skipped += len(batch) - new
            batch.clear()
        if progress:
            progress(read, total)

    for number, row in _rows(path, cols, ("email",)):
        try:
            birthday = cols.get(row, "birthday")
            enrolled = cols.get(row, "enrolled_at")
            data = validate_enrollment(
                EnrollmentInput(
                    external_id=cols.customer_id(row),
                    email=cols.get(row, "email"),
                    name=cols.get(row, "name") or None,
                    birthday=date.fromisoformat(birthday) if birthday else None,
                ),
                now.date(),
            )
            if data.external_id in seen:
                raise DomainError(ErrorCode.ALREADY_EXISTS, f"customer {data.external_id!r} is on an earlier row.")
            seen.add(data.external_id)
            enrolled_at = _time(enrolled, "enrolled_at") if enrolled else now
            batch.append(CustomerRow(data.external_id, data.email, data.name, data.birthday, enrolled_at))
        except ValueError:
            report.bad.append((number, f"birthday: {cols.get(row, 'birthday')!r} is not a date (YYYY-MM-DD)."))
        except DomainError as error:
            report.bad.extend((number, m) for m in _messages(error))
        if len(batch) >= BATCH:
            await flush(number)
    await flush(total)
    return report
