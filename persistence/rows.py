"""Rows as plain dataclasses: what persistence hands the use cases, in place of Tortoise
model instances (Tortoise keeps the models and migrations, not the runtime queries).

Each is built from a statement's row dict by one function that converts what the two
databases hand back the way Tortoise converted it: SQLite gives decimals, dates and
times as text (and a decimal that arithmetic touched as a float), both give JSON columns
as text (no asyncpg codec is registered), and times leave aware, in UTC.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from persistence import sql


@dataclass(slots=True)
class CustomerRow:
    """A customer as stored. Mutable: a use case that moves the balance keeps its row
    up to date for whatever the transaction does next (see app.engagement)."""

    id: int
    external_id: str
    email: str
    name: str | None
    birthday: date | None
    tags: list[str]
    attributes: dict[str, Any] | None
    """None for customers enrolled before attributes existed (or imported): no attributes."""
    referral_code: str | None
    referred_by_id: int | None
    tier: str | None
    points_available: int
    points_pending: int
    lifetime_earned: int
    lifetime_spend: Decimal
    order_count: int
    last_order_at: datetime | None
    enrolled_at: datetime
    tier_reviewed_at: datetime | None
    birthday_year: int | None


def customer_row(row: Mapping[str, Any]) -> CustomerRow:
    """From `SELECT * FROM customers` (or any statement giving these columns)."""
    return CustomerRow(
        id=row["id"],
        external_id=row["external_id"],
        email=row["email"],
        name=row["name"],
        birthday=date_of(row["birthday"]),
        tags=json_of(row["tags"]) or [],
        attributes=json_of(row["attributes"]),
        referral_code=row["referral_code"],
        referred_by_id=row["referred_by_id"],
        tier=row["tier"],
        points_available=row["points_available"],
        points_pending=row["points_pending"],
        lifetime_earned=row["lifetime_earned"],
        lifetime_spend=decimal_of(row["lifetime_spend"]),
        order_count=row["order_count"],
        last_order_at=moment_of(row["last_order_at"]),
        enrolled_at=moment_of(row["enrolled_at"]),
        tier_reviewed_at=moment_of(row["tier_reviewed_at"]),
        birthday_year=row["birthday_year"],
    )


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    id: int
    name: str
    prefix: str
    key_hash: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


def api_key_row(row: Mapping[str, Any]) -> ApiKeyRow:
    return ApiKeyRow(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        key_hash=row["key_hash"],
        scopes=json_of(row["scopes"]) or [],
        created_at=moment_of(row["created_at"]),
        revoked_at=moment_of(row["revoked_at"]),
    )


# ---- conversions, as Tortoise's fields made them ------------------------------------------


@lru_cache(maxsize=16)
def _quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def decimal_of(value: Any, places: int = 4) -> Decimal:
    """A decimal column (`places` its decimal places): PostgreSQL's numeric arrives as a
    Decimal already; SQLite's text, or float after arithmetic, is cut to the column's
    places, so 0.1 + 0.2 reads back as 0.3000."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value)).quantize(_quantum(places))


def moment_of(value: Any) -> Any:
    """A timestamp column: aware, in UTC (SQLite holds the ISO text Tortoise wrote; None
    stays None)."""
    if value is None:
        return None
    return sql.as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def date_of(value: Any) -> date | None:
    """A date column (SQLite holds `YYYY-MM-DD`)."""
    if value is None or type(value) is date:
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


def json_of(value: Any) -> Any:
    """A JSON column: both databases may hand back its text."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def json_text(value: Any) -> str:
    """A value for a JSON column, written compactly as Tortoise wrote it."""
    return json.dumps(value, separators=(",", ":"))
