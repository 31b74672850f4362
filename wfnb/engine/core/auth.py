"""Who may do what: capabilities, roles and users from ``wfnb.toml``, checked by the engine.

With no ``[roles]`` configured the local user may do everything (the single-user default).
Once roles exist, a user holds the capabilities of the roles ``[users]`` gives them, and a user
in no role may do nothing. ``ADMIN`` stands for every capability.

A workflow's ``runners`` and a step's ``approvers`` list role names; ``user:NAME`` names one
user. A bare name is never matched against user names, so a user who happens to be called like
a role does not get that role's say.
"""
from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .errors import ConfigError


def current_user() -> str:
    """``WFNB_USER``, else ``JUPYTERHUB_USER``, else the OS user."""
    return os.environ.get("WFNB_USER") or os.environ.get("JUPYTERHUB_USER") or getpass.getuser()


CAPABILITIES = ("LIST_WORKFLOWS", "RUN_WORKFLOW", "UPDATE_WORKFLOW", "VIEW_RUNS", "VIEW_DETAILS",
                "CANCEL_RUN", "APPROVE", "ADMIN")
# either one shows a run's fields (who started it, with what arguments): runs() and get_run()
SEE_RUN_FIELDS = ("VIEW_RUNS", "VIEW_DETAILS")
USER_PREFIX = "user:"  # in runners / approvers: "user:ana" is the user ana, "lead" the role


def _line_of(text: str, section: str, key: str) -> str:
    """' (line N)' for ``key`` inside ``[section]`` of a TOML text, or '' if not found."""
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if m := re.match(r"^\[([^\]]+)\]", stripped):
            current = m.group(1).strip()
        elif current == section and re.match(rf'^"?{re.escape(key)}"?\s*=', stripped):
            return f" (line {number})"
    return ""


@dataclass
class Permissions:
    """Roles → capabilities and users → roles, as configured for one workspace."""

    roles: dict[str, set[str]] = field(default_factory=dict)
    users: dict[str, set[str]] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return bool(self.roles)

    @classmethod
    def from_config(cls, raw: dict, file: Path) -> "Permissions":
        text = file.read_text() if file.exists() else ""
        roles_raw, users_raw = raw.get("roles", {}), raw.get("users", {})
        roles: dict[str, set[str]] = {}
        for role, caps in roles_raw.items():
            where = f"{file}{_line_of(text, 'roles', role)}"
            if role.startswith(USER_PREFIX):
                raise ConfigError(f"{where}: [roles] {role!r}: a role name cannot start with "
                                  f"{USER_PREFIX!r} (in runners and approvers that names a user)")
            if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
                raise ConfigError(f"{where}: [roles] {role} must be a list of capabilities")
            for cap in caps:
                if cap not in CAPABILITIES:
                    raise ConfigError(f"{where}: [roles] {role} names unknown capability "
                                      f"{cap!r} (known: {', '.join(CAPABILITIES)})")
            roles[role] = set(caps)
        users: dict[str, set[str]] = {}
        for user, user_roles in users_raw.items():
            where = f"{file}{_line_of(text, 'users', user)}"
            if isinstance(user_roles, str):
                user_roles = [user_roles]
            if not isinstance(user_roles, list) or not all(isinstance(r, str)
                                                           for r in user_roles):
                raise ConfigError(f"{where}: [users] {user} must be a list of role names")
            for role in user_roles:
                if role not in roles:
                    raise ConfigError(f"{where}: [users] {user} has role {role!r}, which "
                                      f"[roles] does not define (roles: "
                                      f"{', '.join(roles) or 'none'})")
            users[user] = set(user_roles)
        if users and not roles:
            raise ConfigError(f"{file}: [users] gives users roles, but [roles] defines none")
        return cls(roles, users)

    def roles_of(self, user: str) -> set[str]:
        return set(self.users.get(user, ()))

    def capabilities(self, user: str) -> set[str]:
        if not self.enabled:
            return set(CAPABILITIES)
        caps: set[str] = set()
        for role in self.roles_of(user):
            caps |= self.roles[role]
        return set(CAPABILITIES) if "ADMIN" in caps else caps

    def can(self, user: str, capability: str) -> bool:
        return capability in self.capabilities(user)

    def is_admin(self, user: str) -> bool:
        return self.can(user, "ADMIN")

    def sees_run_fields(self, user: str) -> bool:
        """May ``user`` see who started a run and its arguments (VIEW_RUNS or VIEW_DETAILS)?"""
        return any(self.can(user, c) for c in SEE_RUN_FIELDS)

    def among(self, user: str, people: Iterable[str] | None) -> bool:
        """Is ``user`` one of ``people`` (role names, and ``user:NAME`` for single users)? An
        empty list means all."""
        people = list(people or ())
        if not people or not self.enabled or self.is_admin(user):
            return True
        return f"{USER_PREFIX}{user}" in people or bool(self.roles_of(user) & set(people))

    def describe(self, people: Iterable[str]) -> str:
        """``people`` for a refusal, pointing out bare names that are no role (a user listed
        without ``user:``, say), which match nobody."""
        people = list(people)
        text = ", ".join(people)
        stray = [p for p in people if not p.startswith(USER_PREFIX) and p not in self.roles]
        if self.enabled and stray:
            text += (f" (not a role: {', '.join(stray)}; name a user as "
                     f"'{USER_PREFIX}{stray[0]}')")
        return text
