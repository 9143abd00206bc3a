"""`loyalty import orders` on PostgreSQL at COPY speed: the file checked and written in SQL.

The CSV goes to the server as it is (COPY ... FORMAT csv into a table of text columns, one
per header field). One statement then reads each row's fields through the column mapping
and groups consecutive rows with one order id into an order (`import_rec`); a second
makes one row per order (`import_grp`) with the checks of domain.orders.validate_order
and the request digest recordOrder computes (sha256 of the same JSON text).

The checks are deliberately narrow: an order is written here only when every field has a
strict, common shape (printable ASCII, an ISO 8601 time, a plain decimal, a currency the
program accepts, no rounding tie in its conversion, an id on no other rows), for which
the SQL and the Python readings provably agree. Every other order, bad or merely unusual,
is `fast = false` and handed back with its rows (`slow_rows`) to app.imports, which judges
it with validate_order as before and reports its problems by line. Measured at 1,000,000
orders: Python per order (validation, digest, reading columns) was the whole cost.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from datetime import datetime
from decimal import Decimal

from domain.exchange import ExchangeRates
from domain.money import MAX_AMOUNT, minor_units
from domain.orders import MAX_LINES, MAX_QUANTITY
from persistence import sql
from persistence.connections import MalformedCsv
from persistence.imports import move_staged, new_only, staging_tables
from persistence.statements import named

__all__ = ["MalformedCsv", "available", "classify", "customers_to_enrol", "drop_staging",
           "referral_codes", "slow_rows", "stage_csv", "write_fast"]  # fmt: skip

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


def _currencies(exchange: ExchangeRates) -> str:
    """(code, minor units, rate) of each accepted currency, as a VALUES list."""
    accepted = {exchange.program_currency: Decimal(1), **exchange.rates}
    return ", ".join(
        f"('{code}', {minor_units(code)}, {rate}::numeric)" for code, rate in accepted.items() if code.isalpha()
    )


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
    """A row per record: its order (grp, the number of the order's first record), the
    order's currency and batch (from that first row), and the line as validate_order reads it."""
    program_digits = minor_units(exchange.program_currency)
    # Python rounds a converted price half even, round() half up: a price that falls
    # exactly half way is left to Python.
    scale = 10**program_digits
    first = "CASE WHEN s.starts THEN lpad(s.n::text, 12, '0') || {} END"
    return f"""DROP TABLE IF EXISTS import_rec; CREATE TEMP TABLE import_rec AS
SELECT u.*, u.q IS NOT NULL AND u.q BETWEEN 1 AND {MAX_QUANTITY} AND u.price IS NOT NULL AND u.price <= {MAX_AMOUNT}
         AND u.sku <> '' AND length(u.sku) <= 128 AND length(u.category) <= 128
         AND {_plain("u.sku", _JSON_UNSAFE)} AND {_plain("u.category", _JSON_UNSAFE)}
         AND (u.rate = 1 OR u.price * u.rate * {scale} - trunc(u.price * u.rate * {scale}) <> 0.5) AS line_ok,
       CASE WHEN u.rate = 1 THEN u.price ELSE round(u.price * u.rate, {program_digits}) END AS converted,
       '["' || u.sku || '", ' || CASE WHEN u.category = '' THEN 'null' ELSE '"' || u.category || '"' END
         || ', ' || u.q || ', "' || u.price || '"]' AS line_json
FROM (SELECT t.n, t.grp, t.oid, t.raw_oid, t.cust, t.email, t.placed, t.currency, t.shipping, t.sku, t.category,
             t.q, k.digits, k.rate, abs(hashtext(t.order_cust)) % {batches} AS batch,
             CASE WHEN round(t.p, k.digits) = t.p THEN round(t.p, k.digits) END AS price
      FROM (SELECT s.*,
                   max(CASE WHEN s.starts THEN s.n END) OVER w AS grp,
                   substr(max({first.format("s.currency")} COLLATE "C") OVER w, 13) AS cur,
                   substr(max({first.format("s.cust")} COLLATE "C") OVER w, 13) AS order_cust,
                   CASE WHEN s.unit_price <> '' THEN CASE WHEN {_number("s.unit_price")} THEN s.unit_price::numeric END
                        WHEN {_number("s.line_total")} AND s.q > 0 THEN s.line_total::numeric / s.q END AS p
            FROM (SELECT m.*, m.oid IS DISTINCT FROM lag(m.oid) OVER (ORDER BY m.n) AS starts,
                         CASE WHEN m.quantity ~ '^[0-9]+$' AND length(m.quantity) <= 7 THEN m.quantity::int END AS q
                  FROM (SELECT n, CASE WHEN left(o, 1) = '#' THEN substr(o, 2) ELSE o END AS oid, o AS raw_oid,
                               CASE WHEN c NOT IN ('', '0') THEN c ELSE e END AS cust, e AS email,
                               {get["placed_at"]} AS placed, {get["currency"]} AS currency,
                               {get["shipping"]} AS shipping, {get["sku"]} AS sku, {get["category"]} AS category,
                               {get["quantity"]} AS quantity, {get["unit_price"]} AS unit_price,
                               {get["line_total"]} AS line_total
                        FROM (SELECT *, {get["order_id"]} AS o, {get["customer_id"]} AS c, {get["email"]} AS e
                              FROM {_RAW}) f) m) s
            WINDOW w AS (ORDER BY s.n ROWS UNBOUNDED PRECEDING)) t
      LEFT JOIN (VALUES {_currencies(exchange)}) k (code, digits, rate) ON k.code = t.cur) u;
CREATE INDEX ON import_rec (batch)"""


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


# An order's own fields are its first row's (n = grp): Shopify leaves them blank later.
# CASE, not AND, guards each cast: PostgreSQL may evaluate AND's sides in any order.
# A customer with any order left to Python has all of them left to it: the orders that
# enrol a customer give its email and first order's time, whichever path writes them.
_ORDERS_STATEMENT = f"""DROP TABLE IF EXISTS import_grp; CREATE TEMP TABLE import_grp AS
SELECT h.*, CASE WHEN h.fast THEN encode(sha256(convert_to(
         '{{"coupons": [], "currency": "' || h.currency || '", "customer": "' || h.cust || '", "lines": ['
         || h.lines_json || '], "placedAt": "' || to_char(h.placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
         || '+00:00", "shipping": "' || CASE WHEN h.shipping_amount <> 0 THEN h.shipping_amount::text ELSE '0' END
         || '"}}', 'UTF8')), 'hex') END AS request_hash
FROM (SELECT v.*, bool_and(v.plain_order) OVER (PARTITION BY v.cust) AS fast
FROM (SELECT g.grp, g.batch, g.oid, g.cust, g.email, g.currency, g.subtotal, g.program_subtotal, g.rate,
             g.lines_json, g.placed_at, g.shipping_amount, g.odd_id,
             g.digits IS NOT NULL AND g.ok AND g.lines <= {MAX_LINES} AND g.placed_at IS NOT NULL
             AND {_id("g.oid")} AND {_id("g.cust")} AND length(g.email) <= 254 AND {_plain("g.email")}
             AND g.subtotal <= {MAX_AMOUNT} AND g.program_subtotal <= {MAX_AMOUNT}
             AND (g.shipping = '' OR g.shipping_amount IS NOT NULL AND g.shipping_amount * g.rate < {MAX_AMOUNT})
             AND COUNT(*) OVER (PARTITION BY g.oid) = 1 AS plain_order
      FROM (SELECT f.*,
                   CASE WHEN f.placed ~ {_TIME} THEN CASE WHEN {_time_in_range("f.placed")} THEN
                     CASE WHEN length(f.placed) = 10 THEN f.placed::date::timestamp AT TIME ZONE 'UTC'
                          WHEN length(f.placed) = 19 THEN f.placed::timestamp AT TIME ZONE 'UTC'
                          ELSE f.placed::timestamptz END END END AS placed_at,
                   CASE WHEN {_number("f.shipping")} THEN
                     CASE WHEN round(f.shipping::numeric, f.digits) = f.shipping::numeric
                            AND f.shipping::numeric <= {MAX_AMOUNT} THEN round(f.shipping::numeric, f.digits) END
                   END AS shipping_amount
            FROM (SELECT r.grp, min(r.batch) AS batch, min(r.oid) AS oid, COUNT(*) AS lines,
                         bool_and(COALESCE(r.line_ok, false)) AS ok,
                         bool_or(NOT {_plain("r.raw_oid")}) AS odd_id,
                         min(r.cust) FILTER (WHERE r.n = r.grp) AS cust,
                         min(r.email) FILTER (WHERE r.n = r.grp) AS email,
                         min(r.placed) FILTER (WHERE r.n = r.grp) AS placed,
                         min(r.currency) FILTER (WHERE r.n = r.grp) AS currency,
                         min(r.shipping) FILTER (WHERE r.n = r.grp) AS shipping,
                         min(r.digits) AS digits, min(r.rate) AS rate,
                         SUM(r.q * r.price) AS subtotal, SUM(r.q * r.converted) AS program_subtotal,
                         string_agg(r.line_json, ', ' ORDER BY r.n) AS lines_json
                  FROM import_rec r GROUP BY r.grp) f) g) v) h;
CREATE INDEX ON import_grp (batch) WHERE fast"""


async def customers_to_enrol() -> list[str]:
    """Customers of the fast orders who are not enrolled yet."""
    rows = await sql.fetch(
        "SELECT DISTINCT g.cust FROM import_grp g WHERE g.fast"
        " AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.external_id = g.cust)"
    )
    return [r["cust"] for r in rows]


async def referral_codes(codes: Sequence[tuple[str, str]]) -> None:
    """(customer, code) for the customers the fast orders will enrol."""
    await sql.execute(
        "DROP TABLE IF EXISTS import_codes; CREATE TEMP TABLE import_codes (k text PRIMARY KEY, code text)"
    )
    await sql.load_rows("import_codes", ("k", "code"), codes)


async def write_fast(batch: int, entry_tier: str | None, program_currency: str, now: datetime) -> tuple[int, int]:
    """The fast orders of one batch (all of its customers' orders), in one transaction: how
    many there were, and how many were new (the rest were there already)."""
    async with sql.transaction():
        await sql.execute("SET LOCAL work_mem = '256MB'")  # the customers' sums and the lines' joins
        await staging_tables()
        await sql.execute_named(
            named(
                "INSERT INTO import_orders (external_id, customer_external_id, email, currency, placed_at, subtotal,"
                " shipping_amount, request_hash, program_currency, program_subtotal, exchange_rate, referral_code)"
                " SELECT g.oid, g.cust, g.email, g.currency, g.placed_at, g.subtotal, COALESCE(g.shipping_amount, 0),"
                " g.request_hash, :program_currency, g.program_subtotal, g.rate, c.code"
                " FROM import_grp g LEFT JOIN import_codes c ON c.k = g.cust WHERE g.fast AND g.batch = :batch"
            ),
            {"batch": batch, "program_currency": program_currency},
        )
        staged = int((await sql.fetch("SELECT COUNT(*) AS n FROM import_orders"))[0]["n"])
        fresh = await new_only()
        if not fresh:
            return staged, 0
        await sql.execute_named(
            named(
                "INSERT INTO import_lines (order_external_id, position, sku, category, quantity, unit_price)"
                " SELECT r.oid, r.n - r.grp, r.sku, NULLIF(r.category, ''), r.q, r.price FROM import_rec r"
                " WHERE r.batch = :batch AND r.oid IN (SELECT external_id FROM import_orders)"
            ),
            {"batch": batch},
        )
        await move_staged(entry_tier, now)
        return staged, fresh


async def slow_rows() -> list[tuple[int, list[str | None]]]:
    """(record number, fields) of every record of the orders not written here, in file order."""
    if not (await sql.fetch("SELECT EXISTS (SELECT 1 FROM import_grp WHERE NOT fast) AS any"))[0]["any"]:
        return []
    rows = await sql.fetch(
        f"SELECT w.* FROM {_RAW} w WHERE w.n IN"
        " (SELECT r.n FROM import_rec r JOIN import_grp g ON g.grp = r.grp WHERE NOT g.fast) ORDER BY w.n"
    )
    return [(int(row.pop("n")), list(row.values())) for row in rows]


async def drop_staging() -> None:
    await sql.execute(f"DROP TABLE IF EXISTS {_RAW}, import_rec, import_grp, import_codes")
