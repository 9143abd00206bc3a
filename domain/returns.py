"""Returns: what part of an order comes back, and how many points that takes back.

Each earn entry of the order is reversed in proportion to the value returned so far,
rounded down and computed cumulatively: however a return is split, the total reversed
never drifts, and a full return reverses exactly what the order earned. Proportion, not
re-evaluation, because the rules (and the customer's tier) may have changed since.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cached_property

from domain import validation
from domain.errors import DomainError, DomainErrors, ErrorCode
from domain.money import minor_units
from domain.orders import MAX_LINES, MAX_QUANTITY


@dataclass(frozen=True)
class ReturnLineInput:
    sku: str
    quantity: int


@dataclass(frozen=True)
class ReturnInput:
    external_id: str
    order_external_id: str
    lines: tuple[ReturnLineInput, ...]


@dataclass(frozen=True)
class ValidReturn:
    external_id: str
    order_external_id: str
    quantities: Mapping[str, int]
    """sku -> quantity returned now (lines naming one sku are added up)."""

    @cached_property
    def request_hash(self) -> str:
        body = {"order": self.order_external_id, "lines": sorted(self.quantities.items())}
        return hashlib.sha256(json.dumps(body).encode()).hexdigest()


@dataclass(frozen=True)
class OrderedLine:
    sku: str
    quantity: int
    unit_price: Decimal


def validate_return(data: ReturnInput) -> ValidReturn:
    errors: list[DomainError] = []
    for value, field in ((data.external_id, "external_id"), (data.order_external_id, "order_external_id")):
        try:
            validation.external_id(value, [field])
        except DomainError as error:
            errors.append(error)
    if not data.lines:
        errors.append(DomainError(ErrorCode.EMPTY_ORDER, "A return needs at least one line.", ["lines"]))
    if len(data.lines) > MAX_LINES:
        errors.append(DomainError(ErrorCode.INVALID, f"A return has at most {MAX_LINES} lines.", ["lines"]))
    quantities: dict[str, int] = {}
    for index, line in enumerate(data.lines):
        if not (line.sku or "").strip():
            errors.append(DomainError(ErrorCode.REQUIRED, "This value is required.", ["lines", str(index), "sku"]))
            continue
        if not 0 < line.quantity <= MAX_QUANTITY:
            errors.append(
                DomainError(
                    ErrorCode.INVALID_QUANTITY,
                    f"Quantity must be between 1 and {MAX_QUANTITY}; got {line.quantity}.",
                    ["lines", str(index), "quantity"],
                )
            )
            continue
        sku = line.sku.strip()
        quantities[sku] = quantities.get(sku, 0) + line.quantity
    if errors:
        raise DomainErrors(errors)
    return ValidReturn(data.external_id, data.order_external_id, quantities)


def returned_value(
    ordered: Sequence[OrderedLine], returned: Mapping[str, int], field: list[str] | None = None
) -> Decimal:
    """The value of `returned` (sku -> quantity), taken from the order's lines of each sku
    in their order; a sku the order lacks, or more than it holds, is refused."""
    value = Decimal(0)
    for sku, quantity in sorted(returned.items()):
        lines = [line for line in ordered if line.sku == sku]
        if not lines:
            raise DomainError(ErrorCode.INVALID, f"The order has no line with sku '{sku}'.", field or ["lines"])
        left = quantity
        for line in lines:
            take = min(left, line.quantity)
            value += take * line.unit_price
            left -= take
        if left:
            held = sum(line.quantity for line in lines)
            raise DomainError(
                ErrorCode.RETURN_EXCEEDS_ORDER,
                f"The order holds {held} of '{sku}'; {quantity} in all would be returned.",
                field or ["lines"],
            )
    return value


def points_to_reverse(
    earned: Mapping[str, int], reversed_so_far: Mapping[str, int], subtotal: Decimal, value_returned: Decimal
) -> dict[str, int]:
    """rule id -> points to reverse now, given all the value returned so far (this return
    included). Never negative; a full return reverses everything left."""
    due: dict[str, int] = {}
    for rule_id, points in earned.items():
        if value_returned >= subtotal:
            total = points
        else:
            total = int(points * value_returned / subtotal) if subtotal > 0 else 0
        now = total - reversed_so_far.get(rule_id, 0)
        if now > 0:
            due[rule_id] = now
    return due


def spend_returned(
    subtotal: Decimal, program_subtotal: Decimal, program_currency: str, before: Decimal, so_far: Decimal
) -> Decimal:
    """The spend (program currency) a return takes back: the order's program-currency
    subtotal in the share of its own-currency value returned, so it is in the terms the
    order was recorded in (its rate), cumulative so that a full return takes back all."""
    unit = Decimal(1).scaleb(-minor_units(program_currency))

    def share(value: Decimal) -> Decimal:
        if value >= subtotal:
            return program_subtotal
        return (program_subtotal * value / subtotal).quantize(unit, ROUND_HALF_EVEN)

    return share(so_far) - share(before)
