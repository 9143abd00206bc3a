"""Limits and budgets as counters: a rule's own (`limit:`, `budget:`) and its campaign's
(`campaigns:` in a rule file, `campaign: <id>` on a rule), checked against what each can
count: a per-value limit (`per: event.<attribute>`) needs an event, a budget in money counts
discounts."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rules.model import CAMPAIGN_PREFIX, ORDER, Counter
from rules.yamlsource import Document

if TYPE_CHECKING:
    from rules.parse import _Parser


def counter(key: str, limit: dict[str, Any], budget: dict[str, Any]) -> Counter:
    return Counter(
        key=key,
        per_customer=limit.get("per_customer"),
        period=limit.get("period", "all_time"),
        per=limit.get("per"),
        total=limit.get("total"),
        budget_points=budget.get("points"),
        budget_amount=Decimal(str(budget["amount"])) if "amount" in budget else None,
    )


def campaigns(parser: _Parser) -> dict[str, Counter]:
    found: dict[str, Counter] = {}
    for doc, path, item, _ in parser._items("campaigns"):
        cid = item["id"]
        if cid in found:
            parser.err(doc, path + ("id",), f"campaign '{cid}' is defined twice")
            continue
        limit = item.get("limit", {})
        _limit_shape(parser, doc, path + ("limit",), limit, f"campaign '{cid}'", None)
        found[cid] = counter(CAMPAIGN_PREFIX + cid, limit, item.get("budget", {}))
    return found


def rule_counters(parser: _Parser, doc: Document, path: tuple, item: dict, kind: str) -> tuple[Counter, ...]:
    """The rule's own counter (when it has a limit or budget), then its campaign's; each
    problem is an error at its line."""
    rid, on = item["id"], item.get("on", ORDER)
    limit, budget = item.get("limit", {}), item.get("budget", {})
    found: list[Counter] = []
    what = f"rule '{rid}'"
    if limit or budget:
        _limit_shape(parser, doc, path + ("limit",), limit, what, rid)
        if "amount" in budget and kind not in MONEY_KINDS:
            parser.err(
                doc,
                path + ("budget", "amount"),
                f"{what}: a budget in money counts discounts, and this rule gives {kind}: use budget: {{points: N}}",
                rid,
            )
        found.append(counter(rid, limit, budget))
    name = item.get("campaign")
    if name is not None:
        campaign = parser.spec.settings.campaigns.get(name)
        if campaign is None:
            if parser.complete:
                known = ", ".join(sorted(parser.spec.settings.campaigns)) or "none defined"
                parser.err(doc, path + ("campaign",), f"{what}: unknown campaign '{name}' (campaigns: {known})", rid)
        else:
            found.append(campaign)
    for each in found:
        if each.per is not None and on == ORDER:
            where = path + ("limit", "per") if each.key == rid else path + ("campaign",)
            parser.err(
                doc,
                where,
                f"{what}: a limit per {each.per} needs an event rule (on: <event type>);"
                " an order rule applies at most once per order anyway",
                rid,
            )
    return tuple(found)


MONEY_KINDS = ("discount", "free_item")
"""Effects that spend a budget in money (a free item its value; points effects spend a
budget in points)."""


def spends(kind: str, each: Counter) -> bool:
    """Whether a rule of this effect kind spends the counter's budget (a campaign may hold
    points and discount rules: its budget stops only those that spend it)."""
    if each.budget_amount is not None:
        return kind in MONEY_KINDS
    return each.budget_points is not None and kind == "points"


def _limit_shape(parser: _Parser, doc: Document, path: tuple, limit: dict, what: str, rid: str | None) -> None:
    for key in ("period", "per"):
        if key in limit and "per_customer" not in limit:
            parser.err(doc, path, f"{what}: {key} qualifies per_customer, which is missing", rid, key=key)
