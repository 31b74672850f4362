"""How many kernel-to-browser updates a view sends while a run progresses.

    .venv/bin/python benchmarks/view_messages.py

A RunDialog and a RunDetails watch a chain of N trivial steps (and a slower chain of 20 steps
of 50 ms each); prints the updates each view sent (one update = one batched comm message
holding every trait that changed), against the number of status transitions of the run.
Views repaint at most 10 times a second, so updates grow with the run's duration, not with
its number of steps.
"""
from __future__ import annotations

import tempfile
import time

import wfnb
from wfnb.widgets.run_details import RunDetails
from wfnb.widgets.run_dialog import RunDialog


def chain(name: str, n: int, seconds: float = 0.0) -> wfnb.Workflow:
    wf = wfnb.Workflow(name)
    wf.step(lambda ctx: ctx.sleep(seconds), name="s0")
    for i in range(1, n):
        wf.step(lambda ctx: ctx.sleep(seconds), name=f"s{i}", after=[f"s{i - 1}"])
    return wf


def watch(ws, wf) -> tuple[int, int, int, float]:
    dialog = RunDialog(ws, wf)
    before = dialog.messages_sent
    started = time.perf_counter()
    dialog.start({})
    details = RunDetails(ws, dialog.current_run.id)
    dialog.current_run.wait(300)
    took = time.perf_counter() - started
    deadline = time.monotonic() + 10
    while (dialog.run.get("status") != "Completed" or details.run.get("status") != "Completed") \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    transitions = int(ws.sql(f"select count(*) n from events where run_id = "
                             f"'{dialog.current_run.id}'")["n"][0])
    sent = (dialog.messages_sent - before, details.messages_sent)
    dialog.close()
    details.close()
    return transitions, sent[0], sent[1], took


def main() -> None:
    ws = wfnb.open(tempfile.mkdtemp(prefix="wfnb-views-"))
    print(f"{'run':<28}{'events':>8}{'dialog updates':>16}{'details updates':>17}{'run s':>8}")
    for label, wf in (("1,000 trivial steps", chain("fast", 1000)),
                      ("20 steps x 50 ms", chain("slow", 20, 0.05))):
        events, dialog, details, took = watch(ws, wf)
        print(f"{label:<28}{events:>8}{dialog:>16}{details:>17}{took:>8.2f}")


if __name__ == "__main__":
    main()
