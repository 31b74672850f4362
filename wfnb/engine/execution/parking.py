"""How a run driver parks approval steps, applies decisions, and gives a waiting run up.

Mixed into :class:`~wfnb.engine.execution.runner.RunDriver` (it uses the driver's status
setters and state); kept apart because it is the one part of driving a run that deals with people.
"""
from __future__ import annotations

import datetime as dt

from ..core.messages import Decision
from ..core.records import utcnow
from ..core.states import RunStatus, TaskStatus
from ..store import approvals


class ApprovalParking:
    """Approval steps of a live run: waiting, decided, or handed back to the store."""

    # resumed here after a decision or a deadline: this process took the run on, and waits
    # for it at exit until it ends or parks again (``Liveness.finish_taken_on``)
    taken_on = False

    def _park(self, step) -> None:
        """An approval step is reached: its task and the run wait for a decision."""
        now = utcnow()
        approvers = step.approvers or (self.wf.approvers or [])
        deadline = now + dt.timedelta(seconds=step.timeout) if step.timeout else None
        task = self._new_task(step.name, "approval", inputs={
            "approvers": approvers, "description": step.description,
            "on_timeout": step.options.get("on_timeout", "reject"),
            "deadline": deadline.isoformat() if deadline else None,
            "fields": [p.to_dict() for p in step.inputs]}, started_at=now)
        self._set_task(task, TaskStatus.RUNNING)
        self._set_task(task, TaskStatus.WAITING)
        self._parked[step.name] = task
        if self.run.status == RunStatus.RUNNING:
            self._set_run(RunStatus.WAITING)

    def _decide(self, decision: Decision) -> None:
        """Apply a recorded decision to its parked step."""
        task = self._parked.pop(decision.step, None)
        if task is None:
            return  # already applied (the hook and the release check can both bring it)
        who, comment, kind = decision.user, decision.comment, decision.decision
        if kind == "approve":
            result = {**decision.inputs, "approved_by": who, "comment": comment}
            self.results[task.step] = result
            self._set_task(task, TaskStatus.COMPLETED, ended_at=utcnow(), result=result)
        elif kind == "reject":
            because = f": {comment}" if comment else ""
            self._set_task(task, TaskStatus.REJECTED, ended_at=utcnow(),
                           error=f"was rejected by {who}{because}")
            self._rejected_steps.append(task.step)
            self._skip_downstream(task.step)
        else:  # "fail": the approval timed out with on_timeout="fail"
            self._set_task(task, TaskStatus.FAILED, ended_at=utcnow(),
                           error=comment or "no decision")
            self._failed_steps.append(task.step)
            self._skip_downstream(task.step)
        if not self._parked and self.run.status == RunStatus.WAITING:
            self._set_run(RunStatus.RUNNING)
        if kind == "approve":
            self._schedule_ready(self.wf.children()[task.step])

    def _give_up_run(self) -> bool:
        """Nothing runs and only decisions are awaited: hand the run back to the store.
        Returns False if a decision arrived meanwhile (then the driver carries on)."""
        if self._stop is not None:
            return False  # a cancel arrived: end the run instead of giving it up
        self.drain_output()
        self.store.flush()
        decisions, cancelled_by = self.store.transact(
            lambda con: approvals.give_back(con, self.run.id, self.run.owner_id, self.parked))
        if not decisions and cancelled_by is None:
            with self.store.records_lock:
                self.run.owner_id = None
        if cancelled_by is not None:
            self.request_cancel(cancelled_by)
            return False
        if decisions:
            for decision in decisions:
                self._decide(decision)
            return False
        self.released = True
        return True
