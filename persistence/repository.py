"""What every repository has: the session it belongs to."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from persistence.connections import Connection
    from persistence.session import Session


class Repository:
    def __init__(self, session: Session):
        self.session = session

    @property
    def conn(self) -> Connection:
        return self.session.conn
