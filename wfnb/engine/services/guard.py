"""The door every service goes through: who the user is, what they may do, and the refusals
written to the audit trail before they are raised."""
from __future__ import annotations

import json
from typing import Iterable, NoReturn

from ..core.auth import Permissions
from ..core.errors import PermissionDenied
from ..store.store import Store


class Guard:
    """One user's permissions in one workspace (``wfnb.toml``'s ``[permissions]``)."""

    def __init__(self, user: str, permissions: Permissions, store: Store):
        self.user, self.permissions, self.store = user, permissions, store

    def can(self, capability: str) -> bool:
        return self.permissions.can(self.user, capability)

    def among(self, people: Iterable[str] | None) -> bool:
        """Is the user one of ``people`` (users and roles; empty or None: anyone)?"""
        return self.permissions.among(self.user, people)

    def describe(self, people: Iterable[str]) -> str:
        return self.permissions.describe(list(people))

    def sees_run_fields(self) -> bool:
        """May the user see who started a run and with which arguments?"""
        return self.permissions.sees_run_fields(self.user)

    def require(self, capability: str, what: str) -> None:
        """PermissionDenied (recorded) unless the user has ``capability``."""
        if not self.can(capability):
            self.deny(capability, what)

    def deny(self, capability: str, what: str) -> NoReturn:
        """Refuse: write the refusal to the audit trail (and nothing else), then raise."""
        self.store.put(event={"kind": "denied", "actor": self.user,
                              "data": json.dumps({"capability": capability, "what": what})})
        self.store.flush()
        raise PermissionDenied(self.user, capability, what)
