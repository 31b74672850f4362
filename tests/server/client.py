"""Talking to the server in tests: the REST API as a user, waiting with a deadline on the
server's own event loop, and reading the history as the admin."""
from __future__ import annotations

import asyncio
import json
import time


class Api:
    """Calls ``/wfnb/api/...`` as a user (their token in the Authorization header; None:
    no credentials); returns (status, JSON body) whatever the status."""

    def __init__(self, fetch):
        self.fetch = fetch

    async def call(self, method: str, path: str, user: str | None = "alice",
                   body: dict | str | None = None, headers: dict | None = None, **params):
        """``body``: sent as JSON, or as it is when text."""
        headers = {"Authorization": f"token {user}-token" if user else "", **(headers or {})}
        sent = {}
        if method == "POST":
            sent["body"] = body if isinstance(body, str) else json.dumps(body or {})
        response = await self.fetch("wfnb", "api", *path.split("/"), method=method,
                                    headers=headers, params=params, raise_error=False,
                                    **sent)
        text = response.body.decode() if response.body else ""
        return response.code, (json.loads(text) if text else None)

    async def get(self, path: str, user: str | None = "alice", **params):
        return await self.call("GET", path, user, **params)

    async def post(self, path: str, body: dict | str | None = None,
                   user: str | None = "alice"):
        return await self.call("POST", path, user, body)

    async def delete(self, path: str, user: str | None = "alice"):
        return await self.call("DELETE", path, user)

    async def run(self, workflow: str, user: str = "alice", **params) -> dict:
        code, body = await self.post("runs", {"workflow": workflow, "params": params}, user)
        assert code == 201, body
        return body["run"]

    async def status(self, run_id: str, *statuses: str, timeout: float = 15.0) -> dict:
        """The run's details once its status is one of ``statuses`` (polled, with a
        deadline)."""
        async def reached():
            code, body = await self.get(f"runs/{run_id}", "root")
            assert code == 200, body
            return body if body["run"]["status"] in statuses else None
        return await until(reached, timeout, f"run {run_id} to be {' or '.join(statuses)}")


async def until(check, timeout: float = 15.0, what: str = "condition"):
    """Await ``check()`` until it is truthy, with a deadline (the server shares our loop)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


class History:
    """What the history holds, read as the admin through the server's own engine."""

    def __init__(self, ws):
        self.ws = ws

    def sql(self, query: str, *args) -> list[dict]:
        return self.ws.sql(query, list(args)).to_dict("records")

    def denied(self) -> list[tuple[str, str]]:
        return [(r["actor"], r["cap"]) for r in self.sql(
            "SELECT actor, data->>'capability' AS cap FROM events WHERE kind = 'denied' "
            "ORDER BY seq")]

    def counts(self) -> dict:
        """Everything but the refusals: runs, tasks, approvals, sessions, other events."""
        return self.sql(
            "SELECT (SELECT count(*) FROM runs) runs, (SELECT count(*) FROM tasks) tasks, "
            "(SELECT count(*) FROM approvals) approvals, "
            "(SELECT count(*) FROM test_sessions) sessions, "
            "(SELECT count(*) FILTER (WHERE paused) FROM schedules) paused, "
            "(SELECT count(*) FROM events WHERE kind != 'denied') events")[0]

    def status(self, run_id: str) -> str | None:
        rows = self.sql("SELECT status FROM runs WHERE id = ?", run_id)
        return rows[0]["status"] if rows else None
