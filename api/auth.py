"""Turning an Authorization header into a caller."""

from __future__ import annotations

from app.bootstrap import Services
from app.credentials import KEY_PREFIX
from domain.auth import Caller


class InvalidCredentials(Exception):
    pass


async def resolve_caller(services: Services, authorization: str | None) -> Caller:
    """None when no credentials are presented; InvalidCredentials when they are wrong,
    so that a client with a typo in its key hears so instead of seeing empty results."""
    if not authorization:
        return None
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise InvalidCredentials("Use 'Authorization: Bearer <API key or customer token>'.")
    bootstrap = services.settings.bootstrap_api_key
    caller: Caller
    if credential.startswith(f"{KEY_PREFIX}_") or (bootstrap and credential == str(bootstrap)):
        caller = await services.api_keys.verify(services.uow, credential)
    else:
        caller = services.tokens.verify(credential)
    if caller is None:
        raise InvalidCredentials("The API key or customer token is not valid (or has expired).")
    return caller
