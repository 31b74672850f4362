"""Schedules: cron in a time zone, catch-up policies, racing schedulers, a real one."""
import datetime as dt
import subprocess
import sys
import textwrap

import pytest

import wfnb
from tests.helpers import cli_env, poll
from wfnb.engine.services.schedules import occurrences, to_fire
from wfnb.engine.core.errors import ScheduleError

T0 = dt.datetime(2026, 11, 23, 5, 0)  # naive UTC, a Monday


def test_occurrences_follow_the_time_zone_across_a_dst_change():
    # 02:30 Berlin does not exist on 2026-03-29: croniter moves it to 03:00 CEST (01:00 UTC)
    found = occurrences("30 2 * * *", "Europe/Berlin", dt.datetime(2026, 3, 27, 12),
                        dt.datetime(2026, 3, 31, 12))
    assert found == [dt.datetime(2026, 3, 28, 1, 30), dt.datetime(2026, 3, 29, 1, 0),
                     dt.datetime(2026, 3, 30, 0, 30), dt.datetime(2026, 3, 31, 0, 30)]


def test_catchup_policies_choose_which_missed_occurrences_run():
    missed = [T0 + dt.timedelta(hours=h) for h in range(3)]
    now = missed[-1] + dt.timedelta(seconds=30)
    assert to_fire("all", missed, now) == missed
    assert to_fire("latest", missed, now + dt.timedelta(hours=5)) == missed[-1:]
    assert to_fire("none", missed, now) == missed[-1:]  # on time: it runs
    assert to_fire("none", missed, now + dt.timedelta(hours=5)) == []  # late: skipped


def test_a_schedule_runs_each_due_occurrence_once_with_trigger_schedule(ws):
    made = ws.schedule("daily_sales", cron="0 * * * *", params={"date": "2026-11-23"},
                       catchup="all")
    assert made.next_fire > made.created_at
    now = made.next_fire + dt.timedelta(hours=2, minutes=1)
    runs = ws.run_due_schedules(now=now)
    assert len(runs) == 3 and {r.wait(30).status for r in runs} == {"Completed"}
    assert {r.trigger for r in runs} == {"schedule"}
    assert ws.run_due_schedules(now=now) == []  # nothing twice
    assert ws.sql("select count(*) n from schedule_fires")["n"][0] == 3
    after = ws.schedules()[0]
    assert after.next_fire == made.next_fire + dt.timedelta(hours=3)


def test_pause_resume_and_delete(ws):
    made = ws.schedule("daily_sales", cron="*/10 * * * *", params={"date": "2026-11-23"},
                       catchup="all")
    ws.pause_schedule(made.id)
    assert ws.run_due_schedules(now=made.next_fire + dt.timedelta(hours=1)) == []
    ws.resume_schedule(made.id)  # from now: what was missed while paused is not caught up
    assert ws.schedules()[0].paused is False
    ws.delete_schedule(made.id)
    assert ws.schedules() == []
    with pytest.raises(wfnb.NotFound):
        ws.pause_schedule(made.id)


@pytest.mark.parametrize("kwargs, message", [
    ({"cron": "every day"}, "cron 'every day' is not a cron expression"),
    ({"cron": "0 6 * * *", "timezone": "Mars/Olympus"}, "timezone 'Mars/Olympus' is not"),
    ({"cron": "0 6 * * *", "catchup": "some"}, "catchup 'some' must be one of"),
])
def test_bad_schedules_are_refused_and_nothing_is_stored(ws, kwargs, message):
    with pytest.raises(ScheduleError, match=message):
        ws.schedule("daily_sales", params={"date": "2026-11-23"}, **kwargs)
    with pytest.raises(wfnb.ParamError, match="date: is required"):
        ws.schedule("daily_sales", cron="0 6 * * *")
    assert ws.schedules() == []


@pytest.mark.slow
def test_two_schedulers_racing_never_start_an_occurrence_twice(ws):
    made = ws.schedule("daily_sales", cron="*/5 * * * *", params={"date": "2026-11-23"},
                       catchup="all")
    now = made.next_fire + dt.timedelta(minutes=59)
    go = ws.root / "go"
    code = textwrap.dedent(f"""
        import datetime as dt, os, time, wfnb
        ws = wfnb.open({str(ws.root)!r})
        while not os.path.exists({str(go)!r}):
            time.sleep(0.001)
        runs = ws.run_due_schedules(now=dt.datetime.fromisoformat({now.isoformat()!r}))
        print(len([r.wait(60) for r in runs]))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], env=cli_env(),
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    go.write_text("now")
    started = [int(p.communicate(timeout=120)[0].strip()) for p in procs]
    assert sum(started) == 12  # 12 occurrences in the hour, each started by one scheduler
    fires = ws.sql("select count(*) n, count(distinct occurrence) d from schedule_fires")
    assert fires.to_dict("records") == [{"n": 12, "d": 12}]
    assert ws.sql("select count(*) n from runs where trigger = 'schedule'")["n"][0] == 12


@pytest.mark.slow
def test_a_real_scheduler_process_starts_runs_on_a_short_interval(ws):
    out = subprocess.run([sys.executable, "-m", "wfnb", "schedules", "add", "daily_sales",
                          "--cron", "* * * * * */2", "-p", "date=2026-11-23",
                          "--workspace", str(ws.root)], env=cli_env(), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("schedule sch-"), out.stderr
    scheduler = subprocess.Popen([sys.executable, "-m", "wfnb", "scheduler", "--interval",
                                  "0.5", "--workspace", str(ws.root)], env=cli_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        poll(lambda: ws.sql("select count(*) n from runs where trigger = 'schedule' "
                            "and status = 'Completed'")["n"][0] >= 2, timeout=30,
             what="two scheduled runs to complete")
    finally:
        scheduler.terminate()
        scheduler.wait(30)
    listed = subprocess.run([sys.executable, "-m", "wfnb", "schedules", "--json",
                             "--workspace", str(ws.root)], env=cli_env(), capture_output=True,
                            text=True, timeout=60)
    assert '"workflow": "daily_sales"' in listed.stdout


def test_a_kernel_can_run_the_scheduler_loop_in_the_background(ws):
    ws.schedule("daily_sales", cron="* * * * * */1", params={"date": "2026-11-23"})
    stop = ws.start_scheduler(interval=0.2)
    try:
        poll(lambda: ws.runs(trigger="schedule"), timeout=10, what="a scheduled run")
    finally:
        stop.set()
    assert ws.runs(trigger="schedule")[0].wait(30).status == "Completed"


def test_pause_resume_and_delete_are_recorded_and_reach_an_open_gallery(ws):
    """A change made by another process reaches the cards (the next run) and the audit trail
    says who did what."""
    made = ws.schedule("daily_sales", cron="0 6 * * *", params={"date": "2026-11-23"})
    gallery = ws.gallery()
    next_run = lambda: {c["name"]: c for c in gallery.cards.cards}["daily_sales"]["next_run"]  # noqa: E731
    assert next_run() is not None

    def cli(action):
        proc = subprocess.run([sys.executable, "-m", "wfnb", "schedules", action, made.id,
                               "--workspace", str(ws.root)], env=cli_env(WFNB_USER="other"),
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
    cli("pause")
    poll(lambda: next_run() is None, timeout=10, what="the card to drop the paused schedule")
    cli("resume")
    poll(lambda: next_run() is not None, timeout=10, what="the card to show it again")
    cli("delete")
    poll(lambda: next_run() is None, timeout=10, what="the card to drop the deleted schedule")
    audit = ws.sql("select actor, data->>'action' as action from events "
                   "where kind = 'schedule' order by ts")
    assert list(zip(audit["actor"], audit["action"])) == [
        ("tester", "created"), ("other", "paused"), ("other", "resumed"), ("other", "deleted")]
