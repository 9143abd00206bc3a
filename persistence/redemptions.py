"""Redemptions: their rows, the lots of points they spent, the rewards' stock counters.

Call the writes inside `repositories.transaction()`, with the customer locked (the lock
order everywhere: the customer's row, then stock rows). State changes are guarded
(`... WHERE state = 'active'`), so a code is used, cancelled or expired once, whatever
runs at the same time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.money import minor_units
from domain.program import RedeemedReward, Reward
from domain.rewards import Lot, Redemption, RedemptionState, SpentLot
from persistence import sql
from persistence.jobs import IN_AVAILABLE_NOT_EXPIRED, available_remaining, customers_page
from persistence.statements import named

_COLUMNS = (
    "r.id, r.code, c.external_id AS customer_external_id, r.reward_id, r.reward_name, r.kind, r.value, r.sku,"
    " r.min_order, r.currency, r.points_spent, r.points_untraced, r.state, r.request_hash, r.created_at,"
    " r.expires_at, o.external_id AS order_external_id"
)
_FROM = " FROM redemptions r JOIN customers c ON c.id = r.customer_id LEFT JOIN orders o ON o.id = r.order_id"


@dataclass(frozen=True)
class StoredRedemption:
    redemption: Redemption
    customer_id: int
    points_untraced: int


def _datetime(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value  # SQLite hands back text


def _amount(value: object, currency: str) -> Decimal | None:
    # Columns keep 4 decimals for every currency; amounts leave in the currency's own.
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-minor_units(currency)))


def _percent(value: object) -> Decimal:
    """As the rule file wrote it: 12.5, not 12.5000 (the column keeps 4 decimals)."""
    percent = Decimal(str(value))
    return percent.quantize(Decimal(1)) if percent == percent.to_integral_value() else percent.normalize()


def _stored(row: Mapping) -> StoredRedemption:
    currency = row["currency"]
    redemption = Redemption(
        id=row["id"],
        code=row["code"],
        customer_external_id=row["customer_external_id"],
        reward=RedeemedReward(
            code=row["code"],
            reward_id=row["reward_id"],
            kind=row["kind"],
            value=_percent(row["value"]) if row["kind"] == "percentage_discount" else _amount(row["value"], currency),
            sku=row["sku"],
            min_order=_amount(row["min_order"], currency),
        ),
        reward_name=row["reward_name"],
        points_spent=int(row["points_spent"]),
        state=RedemptionState(row["state"]),
        created_at=_datetime(row["created_at"]),
        expires_at=_datetime(row["expires_at"]),
        currency=currency,
        request_hash=row["request_hash"],
        order_external_id=row["order_external_id"],
    )
    return StoredRedemption(redemption, int(row.get("customer_id") or 0), int(row["points_untraced"]))


async def _one(where: str, params: dict[str, object]) -> StoredRedemption | None:
    rows = await sql.fetch_named(named(f"SELECT {_COLUMNS}, r.customer_id{_FROM} WHERE {where}"), params)
    return _stored(rows[0]) if rows else None


async def find_by_id(redemption_id: int) -> StoredRedemption | None:
    return await _one("r.id = :id", {"id": redemption_id})


async def find_by_key(idempotency_key: str) -> StoredRedemption | None:
    return await _one("r.idempotency_key = :key", {"key": idempotency_key})


async def find_by_code(code: str) -> StoredRedemption | None:
    return await _one("r.code = :code", {"code": code})


async def find_by_codes(codes: Sequence[str]) -> dict[str, StoredRedemption]:
    if not codes:
        return {}
    marks = ", ".join(f"${i + 1}" for i in range(len(codes)))
    rows = await sql.fetch(f"SELECT {_COLUMNS}, r.customer_id{_FROM} WHERE r.code IN ({marks})", *codes)
    return {row["code"]: _stored(row) for row in rows}


async def of_customer(customer_external_id: str, active_only: bool, limit: int) -> list[StoredRedemption]:
    state = " AND r.state = 'active'" if active_only else ""
    rows = await sql.fetch_named(
        named(
            f"SELECT {_COLUMNS}, r.customer_id{_FROM} WHERE c.external_id = :customer_external_id{state} ORDER"
            " BY r.id DESC LIMIT :limit"
        ),
        {"customer_external_id": customer_external_id, "limit": limit},
    )
    return [_stored(row) for row in rows]


# ---- what a customer may spend, and has redeemed ----------------------------------------


async def lots(customer_id: int) -> list[Lot]:
    """The customer's lots: what each earn entry not yet expired still holds in the
    available bucket (only those holding something)."""
    rows = await sql.fetch_named(
        named(
            f"SELECT e.id, e.expires_at, {available_remaining()} AS remaining FROM ledger_entries e"
            f" WHERE {IN_AVAILABLE_NOT_EXPIRED} AND e.customer_id = :customer_id ORDER BY e.id"
        ),
        {"customer_id": customer_id},
    )
    found = [
        Lot(row["id"], int(row["remaining"]), _datetime(row["expires_at"]) if row["expires_at"] else None)
        for row in rows
    ]
    return [lot for lot in found if lot.points > 0]


async def uses(customer_id: int, since: Mapping[str, datetime | None]) -> dict[str, int]:
    """reward id -> this customer's redemptions of it since the start of its limit period
    (None: all time); cancelled and expired ones gave their use back."""
    if not since:
        return {}
    reward_ids = sorted(since)
    marks = ", ".join(f"${i + 2}" for i in range(len(reward_ids)))
    rows = await sql.fetch(
        "SELECT reward_id, created_at FROM redemptions WHERE customer_id = $1"
        f" AND state IN ('active', 'used') AND reward_id IN ({marks})",
        customer_id,
        *reward_ids,
    )
    counts: dict[str, int] = {}
    for row in rows:
        start = since[row["reward_id"]]
        if start is None or _datetime(row["created_at"]) >= start:
            counts[row["reward_id"]] = counts.get(row["reward_id"], 0) + 1
    return counts


async def stock_left(rewards: Sequence[Reward]) -> dict[str, int]:
    """reward id -> redemptions still on offer, for the rewards with a stock."""
    stocked = {r.id: r.stock for r in rewards if r.stock is not None}
    if not stocked:
        return {}
    ids = sorted(stocked)
    marks = ", ".join(f"${i + 1}" for i in range(len(ids)))
    rows = await sql.fetch(f"SELECT reward_id, redeemed FROM reward_stock WHERE reward_id IN ({marks})", *ids)
    redeemed = {row["reward_id"]: int(row["redeemed"]) for row in rows}
    return {rid: max(0, stock - redeemed.get(rid, 0)) for rid, stock in stocked.items() if stock is not None}


async def lock_stock(reward: Reward) -> int:
    """Redemptions left of a stocked reward, its counter row locked until the transaction
    ends (after the customer's row) so that two customers cannot take the last one."""
    assert reward.stock is not None
    await sql.execute_named(
        named("INSERT INTO reward_stock (reward_id, redeemed) VALUES (:id, 0) ON CONFLICT (reward_id) DO NOTHING"),
        {"id": reward.id},
    )
    lock = " FOR UPDATE" if sql.on_postgres() else ""
    [row] = await sql.fetch_named(
        named(f"SELECT redeemed FROM reward_stock WHERE reward_id = :id{lock}"), {"id": reward.id}
    )
    return max(0, reward.stock - int(row["redeemed"]))


async def move_stock(reward_id: str, delta: int) -> None:
    """Rewards without a stock have no row; the UPDATE then does nothing."""
    await sql.execute_named(
        named("UPDATE reward_stock SET redeemed = redeemed + :delta WHERE reward_id = :reward_id"),
        {"delta": delta, "reward_id": reward_id},
    )


# ---- writes -------------------------------------------------------------------------------


async def insert(
    customer_id: int,
    reward: Reward,
    *,
    code: str,
    currency: str,
    untraced: int,
    rules_version: str,
    idempotency_key: str | None,
    request_hash: str,
    now: datetime,
    expires_at: datetime,
) -> int:
    """Raises IntegrityError when the idempotency key is taken (a retry, or a race lost)."""
    [row] = await sql.fetch_named(
        named(
            "INSERT INTO redemptions (code, customer_id, reward_id, reward_name, kind, value, sku, min_order, currency,"
            " points_spent, points_untraced, state, rules_version, idempotency_key, request_hash, created_at,"
            " expires_at)"
            " VALUES (:code, :customer_id, :id, :name, :kind, :value, :sku, :min_order, :currency, :points_cost,"
            " :untraced, :active, :rules_version, :idempotency_key, :request_hash, :now, :expires_at) RETURNING id"
        ),
        {
            "code": code,
            "customer_id": customer_id,
            "id": reward.id,
            "name": reward.name,
            "kind": reward.kind,
            "value": reward.value,
            "sku": reward.sku,
            "min_order": reward.min_order,
            "currency": currency,
            "points_cost": reward.points_cost,
            "untraced": untraced,
            "active": RedemptionState.ACTIVE.value,
            "rules_version": rules_version,
            "idempotency_key": idempotency_key,
            "request_hash": request_hash,
            "now": now,
            "expires_at": expires_at,
        },
    )
    return int(row["id"])


async def add_lots(redemption_id: int, taken: Sequence[tuple[int, int]], now: datetime) -> None:
    """(earn entry id, points): positive when spent, negative when a refund puts them back."""
    if taken:
        columns, values = sql.values_rows([(redemption_id, entry_id, points, now) for entry_id, points in taken])
        await sql.execute(
            "INSERT INTO redemption_lots (redemption_id, entry_id, points, created_at) VALUES " + columns, *values
        )


async def spent_lots(redemption_id: int) -> list[SpentLot]:
    """What the redemption still holds of each lot, with that earn entry's expiry."""
    rows = await sql.fetch_named(
        named(
            "SELECT s.entry_id, SUM(s.points) AS points, e.expires_at FROM redemption_lots s"
            " JOIN ledger_entries e ON e.id = s.entry_id WHERE s.redemption_id = :redemption_id"
            " GROUP BY s.entry_id, e.expires_at HAVING SUM(s.points) > 0 ORDER BY s.entry_id"
        ),
        {"redemption_id": redemption_id},
    )
    return [
        SpentLot(row["entry_id"], int(row["points"]), _datetime(row["expires_at"]) if row["expires_at"] else None)
        for row in rows
    ]


async def redeem_entry_id(customer_id: int, redemption_id: int) -> int:
    # By customer first: the (customer_id, id) index finds the entry among few.
    [row] = await sql.fetch_named(
        named(
            "SELECT id FROM ledger_entries WHERE customer_id = :customer_id AND source = :redemption_id AND kind"
            " = 'redeem'"
        ),
        {"customer_id": customer_id, "redemption_id": source_of(redemption_id)},
    )
    return int(row["id"])


def source_of(redemption_id: int) -> str:
    """The ledger entries' `source` for what a redemption spent and got back."""
    return f"redemption:{redemption_id}"


async def mark_used(redemption_ids: Sequence[int], order_id: int, now: datetime) -> int:
    """Marks active redemptions used by the order; returns how many were still active."""
    marks = ", ".join(f"${i + 3}" for i in range(len(redemption_ids)))
    rows = await sql.fetch(
        f"UPDATE redemptions SET state = 'used', order_id = $1, used_at = $2 WHERE id IN ({marks})"
        " AND state = 'active' RETURNING id",
        order_id,
        now,
        *redemption_ids,
    )
    return len(rows)


async def end(redemption_id: int, state: RedemptionState, now: datetime) -> bool:
    """Cancels or expires an active redemption; False when it was no longer active."""
    assert state in (RedemptionState.CANCELLED, RedemptionState.EXPIRED)
    rows = await sql.fetch_named(
        named(
            "UPDATE redemptions SET state = :value, ended_at = :now WHERE id = :redemption_id AND state ="
            " 'active' RETURNING id"
        ),
        {"value": state.value, "now": now, "redemption_id": redemption_id},
    )
    return bool(rows)


async def give_back_codes(order_id: int) -> list[str]:
    """The codes a (wholly) returned order used become usable again; returns them."""
    rows = await sql.fetch_named(
        named(
            "UPDATE redemptions SET state = 'active', order_id = NULL, used_at = NULL"
            " WHERE order_id = :order_id AND state = 'used' RETURNING code"
        ),
        {"order_id": order_id},
    )
    return sorted(row["code"] for row in rows)


# ---- the expiry job -----------------------------------------------------------------------


async def customers_with_expired(now: datetime, after_id: int, limit: int) -> list[tuple[int, str]]:
    exists = "SELECT 1 FROM redemptions r WHERE r.customer_id = c.id AND r.state = 'active' AND r.expires_at <= :now"
    return await customers_page(exists, now, after_id, limit)


async def expired_of(customer_id: int, now: datetime) -> list[StoredRedemption]:
    rows = await sql.fetch_named(
        named(
            f"SELECT {_COLUMNS}, r.customer_id{_FROM} WHERE r.customer_id = :customer_id AND r.state = 'active'"
            " AND r.expires_at <= :now ORDER BY r.id"
        ),
        {"customer_id": customer_id, "now": now},
    )
    return [_stored(row) for row in rows]
