"""`loyalty import orders` on PostgreSQL at COPY speed: the file checked and written in SQL.

The CSV goes to the server as it is (COPY ... FORMAT csv into a table of text columns, one
per header field). One statement then reads each row's fields through the column mapping
and gathers the rows with one order id into an order (`import_rec`, the order's figures on
its first row); a second makes one row per order (`import_grp`) with the checks of
domain.orders.validate_order and the request digest recordOrder computes (sha256 of the
same JSON text). Batches of whole customers are then written (write_fast), by one
connection or two (hand_over, take_over).

The checks are deliberately narrow: an order is written here only when every field has a
strict, common shape (printable ASCII, an ISO 8601 time, a plain decimal, a currency the
program accepts, no rounding tie in its conversion, an id on no other rows), for which
the SQL and the Python readings provably agree. Every other order, bad or merely unusual,
is `fast = false` and handed back with its rows (`slow_rows`) to app.imports, which judges
it with validate_order as before and reports its problems by line. Measured at 1,000,000
orders: Python per order (validation, digest, reading columns) was the whole cost.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from decimal import Decimal

from domain.exchange import ExchangeRates
from domain.money import MAX_AMOUNT, minor_units
from domain.orders import MAX_LINES, MAX_QUANTITY
from persistence import sql
from persistence.connections import MalformedCsv
from persistence.imports import IMPORT_RULES_VERSION
from persistence.repositories import NEW_CUSTOMER
from persistence.statements import Statement, insert_select
from persistence.tables import CUSTOMERS, ORDER_LINES, ORDERS

__all__ = ["MalformedCsv", "any_enrolled", "available", "batch_sizes", "classify", "customers_to_enrol", "drop_staging",
           "hand_over", "mark_known", "referral_codes", "slow_rows", "stage_csv", "table_definitions", "take_over",
           "write_fast", "writers"]  # fmt: skip

_RAW = "import_raw"
# PostgreSQL's regular expressions cost per character and per state: a bounded repeat
# ({0,127}) cost 10 us a value, a match of the whole value 5x a search for one bad
# character. So patterns are unbounded, lengths checked apart, and text searched for what
# it may not hold: a control character, or (for what goes into the digest's JSON) `"` and
# `\`; and it is ASCII (octet_length = length), where btrim(' ') strips what str.strip does.
_ID = "'^[A-Za-z0-9][A-Za-z0-9._:@/#+-]*$'"  # domain.validation._EXTERNAL_ID, 128 at most
_NUMBER = "'^[0-9]+([.][0-9]+)?$'"
_CONTROL = "'[\\x01-\\x1f\\x7f]'"
_JSON_UNSAFE = "'[\\x01-\\x1f\\x7f\"\\\\]'"
# The forms both datetime.fromisoformat and PostgreSQL read alike; each part's range is
# checked apart. Years 1971-2098 keep validation.moment's bounds (1970-2100) out of reach.
_TIME = "'^\\d\\d\\d\\d-\\d\\d-\\d\\d([T ]\\d\\d:\\d\\d:\\d\\d(Z| ?[+-]\\d\\d:?\\d\\d)?)?$'"


def _plain(value: str, forbidden: str = _CONTROL) -> str:
    return f"(octet_length({value}) = length({value}) AND {value} !~ {forbidden})"


def _id(value: str) -> str:
    return f"({value} ~ {_ID} AND length({value}) <= 128)"


def _number(value: str) -> str:
    return f"({value} ~ {_NUMBER} AND length({value}) <= 30)"


def _last_index(header: Sequence[str], column: str) -> int | None:
    """csv.DictReader keeps the last of two equal header names."""
    found = [i for i, name in enumerate(header) if name == column]
    return found[-1] if found else None


def _reader(header: Sequence[str], mapping: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Each field's SQL as app.import_formats.Columns.get reads it: each column stripped,
    the non-empty ones joined by a space. Where the result is plain ASCII, str.strip would
    have stripped the same (any other whitespace at an end would still be there)."""
    fields: dict[str, str] = {}
    for name in ("order_id", "customer_id", "email", "placed_at", "currency", "sku", "category", "quantity",
                 "unit_price", "line_total", "shipping"):  # fmt: skip
        indexes = [i for i in (_last_index(header, c) for c in mapping.get(name, ())) if i is not None]
        parts = [f"NULLIF(btrim(f{i}, ' '), '')" for i in indexes]
        if len(parts) == 1:
            fields[name] = f"COALESCE({parts[0]}, '')"
        else:
            fields[name] = f"concat_ws(' ', {', '.join(parts)})" if parts else "''"
    return fields


def available() -> bool:
    return sql.on_postgres()


async def stage_csv(header: Sequence[str], chunks: AsyncIterable[bytes]) -> int:
    """The file's rows into this connection's `import_raw` (n: the record's number from 1);
    how many records. Call inside uow.reading(): the later steps need the same connection."""
    columns = [f"f{i}" for i in range(len(header))]
    body = ", ".join(f"{c} text" for c in columns)
    await sql.execute(f"DROP TABLE IF EXISTS {_RAW}; CREATE TEMP TABLE {_RAW} (n bigserial, {body})")
    return await sql.load_csv(_RAW, columns, chunks)


async def classify(
    header: Sequence[str], mapping: dict[str, tuple[str, ...]], exchange: ExchangeRates, batches: int
) -> bool:
    """import_rec (a row per record) and import_grp (a row per order, `fast` when it is
    written here), each order in one of `batches` batches by its customer; call after
    stage_csv on the same connection. False when an order id is not plain ASCII: Python
    might then group the rows into orders otherwise, and reads the whole file itself."""
    async with sql.transaction():
        # Each statement sorts every row of the file once: a million orders (two million
        # rows) take about 340 MB and 460 MB of sort memory, sorted in memory rather than
        # on disk; a larger file spills, which is slower but works.
        await sql.execute("SET LOCAL work_mem = '1GB'")
        await sql.execute(_records(_reader(header, mapping), exchange, batches))
        await sql.execute(_ORDERS_STATEMENT)
        odd = await sql.fetch("SELECT EXISTS (SELECT 1 FROM import_grp WHERE odd_id) AS odd")
    return not odd[0]["odd"]


def _records(get: dict[str, str], exchange: ExchangeRates, batches: int) -> str:
    """A row per record, the rows of an order together: the line as validate_order reads
    it and, on the order's first row (n = first), the order as its first row gives it with
    what its lines add up to.

    An order is the rows that share its id; they are one order as Python groups them (the
    rows that follow one another) only when they are consecutive (rows = last - first + 1),
    which the next statement checks. One sort (by id, then record) serves both windows: the
    first reads the order's own fields from its first row (Shopify leaves them blank later),
    the second adds up its lines in record order, once per order (the frame is the whole
    order). Measured at 100,000 orders: a third of the CPU of the lag, running maximum and
    grouping it replaces."""
    program_digits = minor_units(exchange.program_currency)
    # Python rounds a converted price half even, round() half up: a price that falls
    # exactly half way is left to Python.
    scale = 10**program_digits
    digits = _by_currency(exchange, "w.order_currency", lambda code, rate: str(minor_units(code)))
    rate = _by_currency(exchange, "w.order_currency", lambda code, rate: f"{rate}::numeric")
    order = 'PARTITION BY {0}.oid COLLATE "C" ORDER BY {0}.n ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING'
    return f"""DROP TABLE IF EXISTS import_rec; CREATE TEMP TABLE import_rec AS
SELECT x.n, x.first, x.oid, x.batch, x.sku, x.category, x.q, x.price, x.digits, x.rate,
       CASE WHEN x.n = x.first THEN COUNT(*) OVER o END AS rows,
       CASE WHEN x.n = x.first THEN max(x.n) OVER o END AS last,
       CASE WHEN x.n = x.first THEN x.cust END AS cust, CASE WHEN x.n = x.first THEN x.email END AS email,
       CASE WHEN x.n = x.first THEN x.placed END AS placed, CASE WHEN x.n = x.first THEN x.currency END AS currency,
       CASE WHEN x.n = x.first THEN x.shipping END AS shipping,
       CASE WHEN x.n = x.first THEN bool_or(NOT {_plain("x.raw_oid")}) OVER o END AS odd_id,
       CASE WHEN x.n = x.first THEN bool_and(COALESCE(x.line_ok, false)) OVER o END AS ok,
       CASE WHEN x.n = x.first THEN SUM(x.q * x.price) OVER o END AS subtotal,
       CASE WHEN x.n = x.first THEN SUM(x.q * x.converted) OVER o END AS program_subtotal,
       CASE WHEN x.n = x.first THEN string_agg(x.line_json, ', ') OVER o END AS lines_json
FROM (SELECT u.*, u.q IS NOT NULL AND u.q BETWEEN 1 AND {MAX_QUANTITY} AND u.price IS NOT NULL
               AND u.price <= {MAX_AMOUNT} AND u.sku <> '' AND length(u.sku) <= 128 AND length(u.category) <= 128
               AND {_plain("u.sku", _JSON_UNSAFE)} AND {_plain("u.category", _JSON_UNSAFE)}
               AND (u.rate = 1 OR u.price * u.rate * {scale} - trunc(u.price * u.rate * {scale}) <> 0.5) AS line_ok,
             CASE WHEN u.rate = 1 THEN u.price ELSE round(u.price * u.rate, {program_digits}) END AS converted,
             '["' || u.sku || '", ' || CASE WHEN u.category = '' THEN 'null' ELSE '"' || u.category || '"' END
               || ', ' || u.q || ', "' || u.price || '"]' AS line_json
      FROM (SELECT v.*, CASE WHEN round(v.p, v.digits) = v.p THEN round(v.p, v.digits) END AS price
            FROM (SELECT w.*, {digits} AS digits, {rate} AS rate, abs(hashtext(w.order_cust)) % {batches} AS batch
                  FROM (SELECT m.*, first_value(m.n) OVER o AS first, first_value(m.currency) OVER o AS order_currency,
                               first_value(m.cust) OVER o AS order_cust
                        FROM (SELECT f.n, CASE WHEN left(f.o, 1) = '#' THEN substr(f.o, 2) ELSE f.o END AS oid,
                                     f.o AS raw_oid, CASE WHEN f.c NOT IN ('', '0') THEN f.c ELSE f.e END AS cust,
                                     f.e AS email, f.placed, f.currency, f.shipping, f.sku, f.category, f.q,
                                     CASE WHEN f.unit_price <> '' THEN
                                            CASE WHEN {_number("f.unit_price")} THEN f.unit_price::numeric END
                                          WHEN {_number("f.line_total")} AND f.q > 0 THEN f.line_total::numeric / f.q
                                     END AS p
                              FROM (SELECT e.*, CASE WHEN e.quantity ~ '^[0-9]+$' AND length(e.quantity) <= 7
                                                     THEN e.quantity::int END AS q
                                    FROM (SELECT n, {get["order_id"]} AS o, {get["customer_id"]} AS c,
                                                 {get["email"]} AS e, {get["placed_at"]} AS placed,
                                                 {get["currency"]} AS currency, {get["shipping"]} AS shipping,
                                                 {get["sku"]} AS sku, {get["category"]} AS category,
                                                 {get["quantity"]} AS quantity, {get["unit_price"]} AS unit_price,
                                                 {get["line_total"]} AS line_total
                                          FROM {_RAW}) e) f) m
                        WINDOW o AS ({order.format("m")})) w) v) u) x
WINDOW o AS ({order.format("x")});
CREATE INDEX ON import_rec (batch)"""


def _by_currency(exchange: ExchangeRates, currency: str, value: Callable[[str, Decimal], str]) -> str:
    """A CASE over the accepted currencies (NULL for any other): a join would lose the
    rows' order, which the second window of _records reads them in."""
    accepted = {exchange.program_currency: Decimal(1), **exchange.rates}
    branches = " ".join(f"WHEN '{code}' THEN {value(code, rate)}" for code, rate in accepted.items() if code.isalpha())
    return f"CASE {currency} {branches} END"


def _time_in_range(text: str) -> str:
    """Each part of a time that matched _TIME within its range (the offset, when there is
    one, after the 19th character: Z, +hh:mm, +hhmm, or one of those after a space)."""

    def part(start: int, size: int) -> str:
        return f"substr({text}, {start}, {size})::int"

    offset = f"ltrim(substr({text}, 20), ' ')"
    last_day = f"extract(day from make_date({part(1, 4)}, {part(6, 2)}, 1) + interval '1 month - 1 day')"
    return (
        f"{part(1, 4)} BETWEEN 1971 AND 2098 AND {part(6, 2)} BETWEEN 1 AND 12"
        f" AND {part(9, 2)} BETWEEN 1 AND {last_day}"
        f" AND (length({text}) = 10 OR {part(12, 2)} <= 23 AND {part(15, 2)} <= 59 AND {part(18, 2)} <= 59)"
        f" AND (length({text}) <= 20 OR substr({offset}, 2, 2)::int <= 14 AND right({offset}, 2)::int <= 59)"
    )


# An order's own fields are its first row's (import_rec keeps them on that row alone).
# CASE, not AND, guards each cast: PostgreSQL may evaluate AND's sides in any order.
# OFFSET 0 keeps the time and shipping, which the checks and the digest both read, from
# being inlined into each (each was computed two and three times).
# A customer with any order left to Python has all of them left to it: the orders that
# enrol a customer give its email and first order's time, whichever path writes them. An
# UPDATE of those few customers' orders, not a window over every order by customer: the
# window's sort and partitions took 15 s of the statement's 40 at 1,000,000 orders.
_ORDERS_STATEMENT = f"""DROP TABLE IF EXISTS import_grp; CREATE TEMP TABLE import_grp AS
SELECT h.*, CASE WHEN h.fast THEN encode(sha256(convert_to(
         '{{"coupons": [], "currency": "' || h.currency || '", "customer": "' || h.cust || '", "lines": ['
         || h.lines_json || '], "placedAt": "' || to_char(h.placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
         || '+00:00", "shipping": "' || CASE WHEN h.shipping_amount <> 0 THEN h.shipping_amount::text ELSE '0' END
         || '"}}', 'UTF8')), 'hex') END AS request_hash, false AS known, false AS enrolled
FROM (SELECT g.grp, g.batch, g.oid, g.cust, g.email, g.currency, g.subtotal, g.program_subtotal, g.rate,
             g.lines_json, g.placed_at, g.shipping_amount, g.odd_id,
             g.digits IS NOT NULL AND g.ok AND g.rows = g.last - g.grp + 1 AND g.rows <= {MAX_LINES}
             AND g.placed_at IS NOT NULL
             AND {_id("g.oid")} AND {_id("g.cust")} AND length(g.email) <= 254 AND {_plain("g.email")}
             AND g.subtotal <= {MAX_AMOUNT} AND g.program_subtotal <= {MAX_AMOUNT}
             AND (g.shipping = '' OR g.shipping_amount IS NOT NULL AND g.shipping_amount * g.rate < {MAX_AMOUNT})
             AS fast
      FROM (SELECT f.first AS grp, f.batch, f.oid, f.cust, f.email, f.currency, f.subtotal, f.program_subtotal,
                   f.rate, f.digits, f.lines_json, f.odd_id, f.ok, f.rows, f.last, f.shipping,
                   CASE WHEN f.placed ~ {_TIME} THEN CASE WHEN {_time_in_range("f.placed")} THEN
                     CASE WHEN length(f.placed) = 10 THEN f.placed::date::timestamp AT TIME ZONE 'UTC'
                          WHEN length(f.placed) = 19 THEN f.placed::timestamp AT TIME ZONE 'UTC'
                          ELSE f.placed::timestamptz END END END AS placed_at,
                   CASE WHEN {_number("f.shipping")} THEN
                     CASE WHEN round(f.shipping::numeric, f.digits) = f.shipping::numeric
                            AND f.shipping::numeric <= {MAX_AMOUNT} THEN round(f.shipping::numeric, f.digits) END
                   END AS shipping_amount
            FROM import_rec f WHERE f.n = f.first OFFSET 0) g OFFSET 0) h;
UPDATE import_grp SET fast = false WHERE fast AND cust IN (SELECT cust FROM import_grp WHERE NOT fast);
CREATE INDEX ON import_grp (batch) WHERE fast"""


async def customers_to_enrol() -> list[str]:
    """Customers of the fast orders who are not enrolled yet; call after mark_known."""
    rows = await sql.fetch("SELECT DISTINCT g.cust FROM import_grp g WHERE g.fast AND NOT g.enrolled")
    return [r["cust"] for r in rows]


async def mark_known() -> None:
    """Marks the fast orders already recorded, and those of customers already enrolled;
    call once, before write_fast."""
    await sql.execute(_KNOWN)


async def referral_codes(codes: Sequence[tuple[str, str]]) -> None:
    """(customer, code) for the customers the fast orders will enrol."""
    await sql.execute(
        "DROP TABLE IF EXISTS import_codes; CREATE TEMP TABLE import_codes (k text PRIMARY KEY, code text)"
    )
    await sql.load_rows("import_codes", ("k", "code"), codes)


# A batch's orders not there yet: written straight from import_grp and import_rec, with
# no staging tables between (copying the batch there and joining it back cost a tenth of
# the import). The orders already there (an earlier run, or the API) are marked once,
# before the first batch: marked batch by batch, each batch read the whole orders table
# again (3 s of 85 at 1,000,000 orders). An order the API records in the meantime with an
# id of the file fails its batch on the unique key; running the import again resumes it.
_BATCH = "import_grp g WHERE g.batch = :batch AND g.fast AND NOT g.known"
_KNOWN = (
    "UPDATE import_grp g SET known = true WHERE g.fast AND EXISTS (SELECT 1 FROM orders o WHERE o.external_id = g.oid);"
    " UPDATE import_grp g SET enrolled = true WHERE g.fast"
    " AND EXISTS (SELECT 1 FROM customers c WHERE c.external_id = g.cust)"
)
# The enrolled customers' cached figures move by what their new orders add, as
# recordOrder's do (run before _NEW_CUSTOMERS, which writes the new ones' own).
_TOTALS = Statement(f"""
UPDATE customers SET order_count = order_count + a.n, lifetime_spend = lifetime_spend + a.spend,
       last_order_at = CASE WHEN customers.last_order_at IS NULL OR customers.last_order_at < a.last
                            THEN a.last ELSE customers.last_order_at END
FROM (SELECT g.cust AS k, COUNT(*) AS n, SUM(g.program_subtotal) AS spend, MAX(g.placed_at) AS last
      FROM {_BATCH} AND g.enrolled GROUP BY g.cust) a
WHERE customers.external_id = a.k""")
# Customers enrolled by their first imported order, in the entry tier, with the figures
# their orders give (a batch holds all of a customer's orders: written once). In order of
# their ids, so the unique index on them is filled page after page.
_NEW_CUSTOMERS = Statement(
    insert_select(
        CUSTOMERS,
        {
            "external_id": "g.cust",
            "email": "MIN(g.email)",
            "tags": "'[]'",
            "tier": ":tier",
            **NEW_CUSTOMER,
            "order_count": "COUNT(*)",
            "lifetime_spend": "SUM(g.program_subtotal)",
            "last_order_at": "MAX(g.placed_at)",
            "enrolled_at": "MIN(g.placed_at)",
            "referral_code": "MIN(c.code)",
        },
        f"{_BATCH.replace(' WHERE ', ' JOIN import_codes c ON c.k = g.cust WHERE ', 1)}"
        ' AND NOT g.enrolled GROUP BY g.cust ORDER BY g.cust COLLATE "C"',
    )
)
# Imported orders earn nothing (points_earned 0, rules_version `import`); `--award` records
# each order through app.orders instead. Orders go in by customer and time, so their ids
# (given in that order) and the customer index grow in step; their lines, inserted in the
# same statement from the ids the orders came back with, go in by order id, so both of
# order_lines' indexes and the foreign key's look-ups move forwards through the pages.
_ORDERS_AND_LINES = Statement(
    "WITH o AS ("
    + insert_select(
        ORDERS,
        {
            "external_id": "g.oid",
            "currency": "g.currency",
            "placed_at": "g.placed_at",
            "subtotal": "g.subtotal",
            "shipping_amount": "COALESCE(g.shipping_amount, 0)",
            "program_currency": ":program_currency",
            "program_subtotal": "g.program_subtotal",
            "exchange_rate": "g.rate",
            "coupon_codes": "'[]'",
            # Store exports carry neither: read back as no country and no tags, as older orders.
            "country": "NULL",
            "points_earned": "0",
            "rules_version": ":rules_version",
            "request_hash": "g.request_hash",
            "created_at": ":now",
            "customer_id": "c.id",
        },
        f"{_BATCH.replace(' WHERE ', ' JOIN customers c ON c.external_id = g.cust WHERE ', 1)}"
        " ORDER BY c.id, g.placed_at",
        returning="id, external_id",
    )
    + "), l AS ("
    + insert_select(
        ORDER_LINES,
        {
            "position": "r.n - r.first",
            "sku": "r.sku",
            "category": "NULLIF(r.category, '')",
            "quantity": "r.q",
            "unit_price": "r.price",
            "tags": "NULL",
            "order_id": "o.id",
        },
        "o JOIN import_rec r ON r.oid = o.external_id WHERE r.batch = :batch ORDER BY o.id, r.n",
    )
    + ") SELECT COUNT(*) AS n FROM o"
)


async def batch_sizes(batches: int) -> list[tuple[int, int]]:
    """(fast orders, of which new) of each batch, in one reading of import_grp."""
    rows = await sql.fetch(
        "SELECT batch, COUNT(*) AS staged, COUNT(*) FILTER (WHERE NOT known) AS fresh FROM import_grp"
        " WHERE fast GROUP BY batch"
    )
    sizes = {int(r["batch"]): (int(r["staged"]), int(r["fresh"])) for r in rows}
    return [sizes.get(batch, (0, 0)) for batch in range(batches)]


async def any_enrolled() -> bool:
    """Whether a new fast order's customer is enrolled already (their figures then move)."""
    rows = await sql.fetch("SELECT EXISTS (SELECT 1 FROM import_grp WHERE fast AND NOT known AND enrolled) AS any")
    return bool(rows[0]["any"])


async def write_fast(
    batch: int, entry_tier: str | None, program_currency: str, now: datetime, *, enrolled: bool = True
) -> None:
    """The new fast orders of one batch (all of its customers' orders), in one transaction.

    Committed without waiting for the WAL to reach the disk (synchronous_commit off, this
    transaction only): a crash of the server may then lose the last batches committed,
    which running the import again writes, as it writes any batch not yet written."""
    async with sql.transaction():
        await sql.execute("SET LOCAL work_mem = '256MB'")  # the customers' sums and the lines' joins
        await sql.execute("SET LOCAL synchronous_commit = off")
        if enrolled:  # else nothing to update: the statement would still read every customer
            await sql.execute_named(_TOTALS, {"batch": batch})
        await sql.execute_named(_NEW_CUSTOMERS, {"batch": batch, "tier": entry_tier})
        await sql.fetch_named(
            _ORDERS_AND_LINES,
            {"batch": batch, "program_currency": program_currency, "rules_version": IMPORT_RULES_VERSION, "now": now},
        )


def writers(wanted: int) -> int:
    """How many connections may write batches at once: `wanted`, fewer when the pool is
    smaller (the first writer holds one while the second waits for another)."""
    return max(1, min(wanted, sql.connections_at_most()))


# What a second writer (another connection: app.bulk_import) needs of this connection's
# tables for the batches it takes: their rows, copied to tables of its own in binary COPY.
_HANDED = ("import_grp", "import_rec", "import_codes")


async def table_definitions() -> list[str]:
    """CREATE TEMP TABLE statements for the tables a second writer needs, as they are here."""
    rows = await sql.fetch(
        "SELECT c.relname AS name, string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod),"
        " ', ' ORDER BY a.attnum) AS columns FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " WHERE a.attrelid IN ('import_grp'::regclass, 'import_rec'::regclass, 'import_codes'::regclass)"
        " AND a.attnum > 0 AND NOT a.attisdropped GROUP BY c.relname"
    )
    columns = {row["name"]: row["columns"] for row in rows}
    return [f"DROP TABLE IF EXISTS {table}; CREATE TEMP TABLE {table} ({columns[table]})" for table in _HANDED]


async def hand_over(batches: Sequence[int], send: Callable[[bytes | None], Awaitable[None]]) -> None:
    """The rows of those batches a second writer needs, table after table (None after each)."""
    listed = ", ".join(str(int(batch)) for batch in batches)
    for table, rows in zip(
        _HANDED, (f"fast AND NOT known AND batch IN ({listed})", f"batch IN ({listed})", "true"), strict=True
    ):
        await sql.copy_out(f"SELECT * FROM {table} WHERE {rows}", send)
        await send(None)


async def take_over(definitions: Sequence[str], receive: Callable[[], Awaitable[bytes | None]]) -> None:
    """On the second writer's connection: its own tables, with what hand_over sends."""

    async def chunks() -> AsyncIterator[bytes]:
        while (chunk := await receive()) is not None:
            yield chunk

    for table, definition in zip(_HANDED, definitions, strict=True):
        await sql.execute(definition)
        await sql.copy_in(table, chunks())
    await sql.execute(
        "CREATE INDEX ON import_rec (batch); CREATE INDEX ON import_grp (batch) WHERE fast;"
        " CREATE INDEX ON import_codes (k)"
    )


async def slow_rows() -> list[tuple[int, list[str | None]]]:
    """(record number, fields) of every record of the orders not written here, in file order."""
    if not (await sql.fetch("SELECT EXISTS (SELECT 1 FROM import_grp WHERE NOT fast) AS any"))[0]["any"]:
        return []
    rows = await sql.fetch(
        f"SELECT w.* FROM {_RAW} w WHERE w.n IN"
        " (SELECT r.n FROM import_rec r JOIN import_grp g ON g.grp = r.first WHERE NOT g.fast) ORDER BY w.n"
    )
    return [(int(row.pop("n")), list(row.values())) for row in rows]


async def drop_staging() -> None:
    await sql.execute(f"DROP TABLE IF EXISTS {_RAW}, import_rec, import_grp, import_codes")
