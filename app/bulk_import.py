"""`loyalty import orders` on PostgreSQL: the file COPY'd whole, the plain orders checked
and written by the database (persistence.bulk_imports), the others handed back.

Measured at 1,000,000 orders: reading, validating and hashing each order in Python held
the import to about 1,000 orders/s; the database does the same for the whole file in a
few statements. What it does not take on (bad rows, and any order whose text is out of
the ordinary) comes back as rows with their line numbers, for app.imports to judge with
validate_order exactly as before: the same messages, the same lines.
"""

from __future__ import annotations

import asyncio
import contextvars
import csv
import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from app.clock import utcnow
from app.import_formats import Columns
from domain.referrals import new_referral_codes
from persistence import bulk_imports
from persistence.unit_of_work import UnitOfWork
from rules import Program

if TYPE_CHECKING:
    from app.imports import ImportReport, Row

ROWS_PER_BATCH = 200_000
"""Rows of the file per transaction (a batch holds all the orders of some customers, who
are then enrolled with their figures once, not updated batch after batch); each batch
committed is kept by an import that stops later."""
CHUNK = 1 << 20


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        first = True
        while chunk := f.read(CHUNK):
            if first:
                chunk, first = chunk.removeprefix(b"\xef\xbb\xbf"), False  # what utf-8-sig drops
            yield chunk


def _line_numbers(path: Path, records: int, newlines: int) -> Callable[[int], int] | None:
    """Record number (from 1) to the line csv.DictReader gives it; None when Python reads
    the file as other records than COPY did."""
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        if size:
            f.seek(size - 1)
            physical = newlines + (f.read(1) != b"\n")
        else:
            physical = 0
    if records + 1 == physical:  # no record spans lines, none is blank
        return lambda n: n + 1
    ends: list[int] = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        next(reader, None)
        for row in reader:
            if row:  # DictReader skips blank lines
                ends.append(reader.line_num)
    if len(ends) != records:
        return None
    return lambda n: ends[n - 1]


WRITERS = min(2, os.cpu_count() or 1)
"""Connections writing batches at once. The batches are independent (each holds all the
orders of its customers), and a batch keeps one PostgreSQL backend busy on one core; the
second writer is handed its batches' rows first (binary COPY between the connections)."""


async def _write(
    uow: UnitOfWork,
    writers: int,
    batches: list[int],
    write: Callable[[int], Awaitable[None]],
    done: Callable[[float], None],
) -> None:
    written = 0

    async def each(mine: list[int]) -> None:
        nonlocal written
        for batch in mine:
            await write(batch)
            written += 1
            done(written / len(batches))

    theirs = batches[1::2] if writers > 1 else []
    if not theirs:
        await each(batches)
        return
    handed: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=16)
    definitions = await bulk_imports.table_definitions()

    async def first() -> None:
        await bulk_imports.hand_over(theirs, handed.put)
        await each(batches[0::2])

    async def second() -> None:
        async with uow.reading() as session:
            try:
                await session.bulk_imports.take_over(definitions, handed.get)
                await each(theirs)
            finally:
                await session.bulk_imports.drop_staging()

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(first())
            # A context of its own: the unit of work gives this task a connection of its own.
            group.create_task(second(), context=contextvars.Context())
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None


async def import_orders(
    uow: UnitOfWork,
    program: Program,
    path: Path,
    header: list[str],
    cols: Columns,
    report: ImportReport,
    total: int,
    progress: Callable[[int, int], None] | None,
) -> list[Row] | None:
    """Writes the plain orders; returns the rows of the others, in file order, or None
    when the database cannot read the file (not PostgreSQL, or not CSV as COPY reads it)."""
    async with uow.reading() as session:
        bulk = session.bulk_imports
        if not bulk.available():
            return None
        try:
            try:
                records = await bulk.stage_csv(header, _chunks(path))
            except bulk.MalformedCsv:
                return None
            line_of = _line_numbers(path, records, total)
            if line_of is None:
                return None
            batches = max(1, -(-records // ROWS_PER_BATCH))
            writers = bulk.writers(WRITERS)
            if batches > 1:  # as many for each writer
                batches = -(-batches // writers) * writers
            if not await bulk.classify(header, cols.mapping, program.exchange, batches):
                return None
            # Every customer has a referral code of their own, as enrollCustomer gives.
            await bulk.mark_known()
            enrolling = await bulk.customers_to_enrol()
            await bulk.referral_codes(list(zip(enrolling, new_referral_codes(len(enrolling)), strict=True)))
            sizes = await bulk.batch_sizes(batches)
            for staged, new in sizes:
                report.imported += new
                report.skipped += staged - new
            entry = program.tier_for(0, Decimal(0))
            await _write(
                uow,
                writers,
                [batch for batch, (_, new) in enumerate(sizes) if new],
                functools.partial(
                    bulk.write_fast,
                    entry_tier=entry.name if entry else None,
                    program_currency=program.exchange.program_currency,
                    now=utcnow(),
                    enrolled=await bulk.any_enrolled(),
                ),
                lambda share: progress(int(total * share), total) if progress else None,
            )
            slow = await bulk.slow_rows()
        finally:
            await bulk.drop_staging()
    return [(line_of(n), {name: value or "" for name, value in zip(header, fields, strict=True)}) for n, fields in slow]
