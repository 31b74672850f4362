"""The history schema and its forward migrations.

Each entry of ``MIGRATIONS`` moves the store one version up. A store written by a newer wfnb
(a version this code does not know) is refused, never altered.
"""
from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: runs, tasks, events, approvals, owners
    """
    CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP);
    CREATE TABLE runs (
        id VARCHAR PRIMARY KEY,
        workflow VARCHAR NOT NULL,
        version VARCHAR,
        params JSON,
        status VARCHAR NOT NULL,
        progress DOUBLE,
        tasks_total INTEGER,
        tasks_done INTEGER,
        created_by VARCHAR,
        trigger VARCHAR,
        parent_id VARCHAR,
        created_at TIMESTAMP NOT NULL,
        started_at TIMESTAMP,
        ended_at TIMESTAMP,
        error VARCHAR,
        owner_id VARCHAR,
        cancel_requested_at TIMESTAMP,
        cancel_requested_by VARCHAR,
        updated_at TIMESTAMP
    );
    CREATE TABLE tasks (
        id VARCHAR PRIMARY KEY,
        run_id VARCHAR NOT NULL,
        step VARCHAR NOT NULL,
        kind VARCHAR,
        attempt INTEGER,
        seq INTEGER,
        status VARCHAR NOT NULL,
        inputs JSON,
        result JSON,
        result_ref VARCHAR,
        error VARCHAR,
        traceback VARCHAR,
        log VARCHAR,
        created_at TIMESTAMP,
        started_at TIMESTAMP,
        ended_at TIMESTAMP
    );
    CREATE INDEX tasks_run_id ON tasks (run_id);
    CREATE SEQUENCE events_seq START 1;
    CREATE TABLE events (
        seq BIGINT DEFAULT nextval('events_seq'),
        ts TIMESTAMP NOT NULL,
        run_id VARCHAR,
        task_id VARCHAR,
        kind VARCHAR NOT NULL,
        status VARCHAR,
        actor VARCHAR,
        data JSON
    );
    CREATE TABLE approvals (
        run_id VARCHAR NOT NULL,
        step VARCHAR NOT NULL,
        decision VARCHAR NOT NULL,
        "user" VARCHAR,
        comment VARCHAR,
        inputs JSON,
        decided_at TIMESTAMP NOT NULL
    );
    CREATE TABLE owners (
        id VARCHAR PRIMARY KEY,
        host VARCHAR,
        pid INTEGER,
        started_at TIMESTAMP,
        heartbeat_at TIMESTAMP
    );
    """,
    # 2: one decision per approval step, enforced by the store as well as by the engine
    """
    CREATE UNIQUE INDEX approvals_once ON approvals (run_id, step);
    """,
    # 3: the executed notebook of a notebook or notebook-cell task
    """
    ALTER TABLE tasks ADD COLUMN notebook VARCHAR;
    """,
    # 4: schedules, and each occurrence fired (so no occurrence ever starts twice)
    """
    CREATE TABLE schedules (
        id VARCHAR PRIMARY KEY,
        workflow VARCHAR NOT NULL,
        cron VARCHAR NOT NULL,
        timezone VARCHAR NOT NULL,
        params JSON,
        catchup VARCHAR NOT NULL,
        paused BOOLEAN NOT NULL DEFAULT false,
        created_by VARCHAR,
        created_at TIMESTAMP NOT NULL,
        last_fire TIMESTAMP,
        next_fire TIMESTAMP
    );
    CREATE TABLE schedule_fires (
        schedule_id VARCHAR NOT NULL,
        occurrence TIMESTAMP NOT NULL,
        run_id VARCHAR NOT NULL,
        fired_at TIMESTAMP NOT NULL,
        fired_by VARCHAR,
        PRIMARY KEY (schedule_id, occurrence)
    );
    """,
    # 5: test sessions: per user and workflow, the last test value of each step
    """
    CREATE TABLE test_sessions (
        "user" VARCHAR NOT NULL,
        workflow VARCHAR NOT NULL,
        step VARCHAR NOT NULL,
        value JSON,
        value_ref VARCHAR,
        run_id VARCHAR,
        updated_at TIMESTAMP NOT NULL,
        PRIMARY KEY ("user", workflow, step)
    );
    CREATE TABLE test_session_state (
        "user" VARCHAR NOT NULL,
        workflow VARCHAR NOT NULL,
        active BOOLEAN NOT NULL,
        PRIMARY KEY ("user", workflow)
    );
    """,
    # 6: the kept versions of declared (*.wfnb.toml) workflows, with their text
    """
    CREATE TABLE workflow_versions (
        workflow VARCHAR NOT NULL,
        version VARCHAR NOT NULL,
        path VARCHAR,
        text VARCHAR NOT NULL,
        saved_by VARCHAR,
        saved_at TIMESTAMP NOT NULL,
        origin VARCHAR NOT NULL,
        PRIMARY KEY (workflow, version)
    );
    """,
    # 7: what the runs table's text filter searches, lowercased once when the run is written
    # (matching four columns case-insensitively cost ~75 ms a query at a million runs)
    """
    ALTER TABLE runs ADD COLUMN search VARCHAR;
    UPDATE runs SET search = lower(concat_ws(' ', id, workflow, created_by,
                                             CAST(params AS VARCHAR)));
    """,
    # 8: resuming a run: the mode of a rerun, reused tasks, what params a task read, and the
    # fingerprint of each step of each version a run ran (what a reuse compares)
    """
    ALTER TABLE runs ADD COLUMN rerun_mode VARCHAR;
    ALTER TABLE runs ADD COLUMN rerun_from VARCHAR;
    ALTER TABLE tasks ADD COLUMN reused_from VARCHAR;
    ALTER TABLE tasks ADD COLUMN params_used JSON;
    UPDATE runs SET rerun_mode = 'all' WHERE trigger = 'rerun';
    CREATE TABLE workflow_steps (
        workflow VARCHAR NOT NULL,
        version VARCHAR NOT NULL,
        step VARCHAR NOT NULL,
        fingerprint VARCHAR NOT NULL,
        PRIMARY KEY (workflow, version, step)
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
