"""Who may call what: checked before a resolver runs (Saleor's Meta.permissions)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from strawberry.permission import BasePermission

from api.context import Info
from api.error_codes import TopLevelCode
from domain.auth import ApiKeyCaller, CustomerCaller, Scope

# api.error_codes answers UNAUTHENTICATED instead when no credentials were sent.
FORBIDDEN = {"code": TopLevelCode.FORBIDDEN.value}


def any_scope(*scopes: Scope) -> type[BasePermission]:
    """An API key with one of these scopes."""
    return _api_key_with(scopes, any, f"the scope {' or '.join(s.value for s in scopes)}")


def all_scopes(*scopes: Scope) -> type[BasePermission]:
    """An API key with every one of these scopes."""
    return _api_key_with(scopes, all, f"the scopes {' and '.join(s.value for s in scopes)}")


def _api_key_with(
    scopes: tuple[Scope, ...], combine: Callable[[Iterable[bool]], bool], names: str
) -> type[BasePermission]:
    class HasScope(BasePermission):
        message = f"This needs an API key with {names} (or admin)."
        error_extensions = FORBIDDEN

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            caller = info.context.caller
            return isinstance(caller, ApiKeyCaller) and combine(caller.allows(s) for s in scopes)

    HasScope.__name__ = f"HasScope_{combine.__name__}_{'_'.join(s.name for s in scopes)}"
    return HasScope


def own_customer_or_scope(*scopes: Scope) -> type[BasePermission]:
    """A customer token for its own customer (the `input`'s customerExternalId, when there is
    an input and it names one); an API key with one of `scopes` (or admin) for any customer. Checked on the input
    before the resolver runs, like every other permission."""
    names = " or ".join(s.value for s in scopes)

    class OwnCustomerOrScope(BasePermission):
        message = f"This needs the customer's own token, or an API key with {names}."

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            caller = info.context.caller
            if isinstance(caller, ApiKeyCaller):
                return any(caller.allows(s) for s in scopes)
            if isinstance(caller, CustomerCaller):
                # An operation without an input (cancelRedemption) acts on its own customer's
                # things only; the use case checks whose they are.
                data = kwargs.get("input")
                return data is None or data.customer_external_id in (None, caller.external_id)
            return False

    OwnCustomerOrScope.__name__ = f"OwnCustomerOr_{'_'.join(s.name for s in scopes)}"
    return OwnCustomerOrScope


class IsCustomer(BasePermission):
    message = "This needs a customer token (Authorization: Bearer <token>)."
    error_extensions = FORBIDDEN

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return isinstance(info.context.caller, CustomerCaller)


def may_see_customer(info: Info, external_id: str) -> bool:
    """An API key with customers:read sees every customer; a customer token only its own."""
    caller = info.context.caller
    if isinstance(caller, CustomerCaller):
        return caller.external_id == external_id
    return isinstance(caller, ApiKeyCaller) and caller.allows(Scope.CUSTOMERS_READ)
