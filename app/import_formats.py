"""Which CSV column holds what, for `loyalty import`: the shapes Shopify's and WooCommerce's
exports produce, our own, or a mapping file (docs/imports.md lists every field).

A mapping names, for each of our fields, the column (or, for `name`, the columns joined by
a space) that holds it. Order files hold one row per order line; an order's rows follow one
another and share its id, and only the first needs the order's own fields (Shopify leaves
them blank on the later rows)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from domain.errors import DomainError, ErrorCode

ORDER_FIELDS = (
    "order_id", "customer_id", "email", "placed_at", "currency", "sku", "category", "quantity",
    "unit_price", "line_total", "shipping",
)  # fmt: skip
CUSTOMER_FIELDS = ("customer_id", "email", "name", "birthday", "enrolled_at")

Mapping = dict[str, tuple[str, ...]]


PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # Our own shape: each column named as the field.
    "loyalty": {"orders": {f: f for f in ORDER_FIELDS}, "customers": {f: f for f in CUSTOMER_FIELDS}},
    # Shopify admin, Orders > Export (CSV for Excel or plain CSV); Customers > Export.
    # Its order export has no customer id: the email is the customer's id here.
    "shopify": {
        "orders": {
            "order_id": "Name",
            "customer_id": "Email",
            "email": "Email",
            "placed_at": "Created at",
            "currency": "Currency",
            "sku": "Lineitem sku",
            "quantity": "Lineitem quantity",
            "unit_price": "Lineitem price",
            "shipping": "Shipping",
        },
        "customers": {
            "customer_id": "Customer ID",
            "email": "Email",
            "name": ["First Name", "Last Name"],
        },
    },
    # WooCommerce's Customer/Order CSV Export, one row per line item; guests have
    # customer_id 0 and are known by their billing email.
    "woocommerce": {
        "orders": {
            "order_id": "order_id",
            "customer_id": "customer_id",
            "email": "billing_email",
            "placed_at": "order_date",
            "currency": "order_currency",
            "sku": "item_sku",
            "quantity": "item_quantity",
            "line_total": "item_total",
            "shipping": "shipping_total",
        },
        "customers": {
            "customer_id": "customer_id",
            "email": "email",
            "name": ["first_name", "last_name"],
            "enrolled_at": "date_registered",
        },
    },
}


@dataclass(frozen=True)
class Columns:
    mapping: Mapping

    def get(self, row: dict[str, str | None], name: str) -> str:
        """The field's text in the row, stripped; '' when absent."""
        parts = [(row.get(column) or "").strip() for column in self.mapping.get(name, ())]
        return " ".join(p for p in parts if p)

    def customer_id(self, row: dict[str, str | None]) -> str:
        """The customer's id, or their email when the file has none (Shopify orders,
        WooCommerce guests, whose id is 0)."""
        found = self.get(row, "customer_id")
        return found if found and found != "0" else self.get(row, "email")


def columns(kind: str, preset: str, mapping_file: Path | None) -> Columns:
    """kind: orders or customers."""
    if mapping_file is not None:
        raw = yaml.safe_load(mapping_file.read_text())
        if not isinstance(raw, dict):
            raise DomainError(ErrorCode.INVALID, f"{mapping_file}: a mapping of field: column", ["mapping"])
    elif preset in PRESETS:
        raw = PRESETS[preset][kind]
    else:
        raise DomainError(ErrorCode.INVALID, f"Unknown format {preset!r}: {', '.join(PRESETS)}.", ["format"])
    known = ORDER_FIELDS if kind == "orders" else CUSTOMER_FIELDS
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise DomainError(ErrorCode.INVALID, f"Unknown fields {unknown}; known: {', '.join(known)}.", ["mapping"])
    return Columns({k: (v,) if isinstance(v, str) else tuple(v) for k, v in raw.items() if k in known})


def missing_columns(cols: Columns, header: list[str], required: tuple[str, ...]) -> list[str]:
    """Required fields none of whose columns the file's header has."""
    return [f for f in required if not any(c in header for c in cols.mapping.get(f, ()))]
