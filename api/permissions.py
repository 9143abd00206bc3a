"""Who may call what: checked before a resolver runs (Saleor's Meta.permissions)."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from api.context import Info
from domain.auth import ApiKeyCaller, CustomerCaller, Scope


def any_scope(*scopes: Scope) -> type[BasePermission]:
    names = " or ".join(s.value for s in scopes)

    class HasScope(BasePermission):
        message = f"This needs an API key with the scope {names} (or admin)."

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            caller = info.context.caller
            return isinstance(caller, ApiKeyCaller) and any(caller.allows(s) for s in scopes)

    HasScope.__name__ = f"HasScope_{'_'.join(s.name for s in scopes)}"
    return HasScope


def all_scopes(*scopes: Scope) -> type[BasePermission]:
    names = " and ".join(s.value for s in scopes)

    class HasScopes(BasePermission):
        message = f"This needs an API key with the scopes {names} (or admin)."

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            caller = info.context.caller
            return isinstance(caller, ApiKeyCaller) and all(caller.allows(s) for s in scopes)

    HasScopes.__name__ = f"HasScopes_{'_'.join(s.name for s in scopes)}"
    return HasScopes


class IsCustomer(BasePermission):
    message = "This needs a customer token (Authorization: Bearer <token>)."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return isinstance(info.context.caller, CustomerCaller)


def may_see_customer(info: Info, external_id: str) -> bool:
    """An API key with customers:read sees every customer; a customer token only its own."""
    caller = info.context.caller
    if isinstance(caller, CustomerCaller):
        return caller.external_id == external_id
    return isinstance(caller, ApiKeyCaller) and caller.allows(Scope.CUSTOMERS_READ)
