// What concerns me now: my runs that have not ended, and the approval steps waiting for my
// decision. Loaded from the REST API once, then kept current by the events socket: the events
// of my runs (their start included) update them in place; a run waiting for approval or a
// decision loads the approvals again (never on a timer). It tells the notifications when a
// step starts waiting for me and when a run I started ends.
import { ISignal, Signal } from '@lumino/signaling';

import { ACTIVE, Api, ApiError, IApproval, IMe, IRun, WAITING } from './api';
import { EventsConnection, IEvent } from './events';

/** A run of mine that ended (seen live), with how it ended. */
export interface IEnded {
  run: IRun;
  status: string;
}

const RELOAD_DELAY = 100; // ms: the events of one commit, or of a burst, load once

export class Activity {
  constructor(api: Api, events: EventsConnection) {
    this._api = api;
    events.received.connect((_, batch) => this._heard(batch));
    events.reconnected.connect(() => this._reload(true, true));
  }

  /** Who I am, once loaded. */
  get me(): IMe | null {
    return this._me;
  }

  /** My runs that have not ended, oldest first. */
  get running(): IRun[] {
    return [...this._mine.values()];
  }

  /** The approval steps waiting for my decision. */
  get approvals(): IApproval[] {
    return this._approvals;
  }

  /** The counts or their runs changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** A step started waiting for my decision (once per run and step). */
  get waiting(): ISignal<this, IApproval> {
    return this._waiting;
  }

  /** A run I started ended (once per run). */
  get ended(): ISignal<this, IEnded> {
    return this._ended;
  }

  /** Load who I am, my runs and my approvals; the events keep them current from then on. */
  async start(): Promise<void> {
    this._me = await this._api.me();
    await Promise.all([this._loadRuns(), this._loadApprovals(false)]);
  }

  // ---- what the events say ------------------------------------------------------------------

  private _heard(events: IEvent[]): void {
    const me = this._me;
    if (!me) {
      return; // not loaded yet: the first load sees it
    }
    let changed = false,
      runs = false,
      approvals = false;
    for (const event of events) {
      const id = event.run_id;
      if (event.kind === 'approval' || (event.kind === 'task' && event.status === WAITING)) {
        approvals = true;
      }
      if (event.kind !== 'run' || !id || !event.status) {
        continue;
      }
      if (event.status === WAITING || this._approvals.some((a) => a.run_id === id)) {
        approvals = true;
      }
      const mine = this._mine.get(id);
      if (
        !mine &&
        event.status === 'Pending' &&
        event.actor === me.user &&
        event.data?.trigger !== 'test' // the editor's test runs show there, as GET runs does
      ) {
        // a run I started (its Pending event names the workflow; else the next load does)
        const workflow = String(event.data?.workflow ?? '');
        this._mine.set(id, { id, workflow, status: event.status, created_by: me.user });
        changed = true;
        runs ||= !workflow;
      } else if (mine && !ACTIVE.includes(event.status)) {
        this._mine.delete(id);
        this._over.add(id);
        changed = true;
        void this._end(mine, event.status);
      } else if (mine && mine.status !== event.status) {
        mine.status = event.status;
        changed = true;
      }
    }
    if (changed) {
      this._changed.emit();
    }
    this._reload(runs, approvals);
  }

  private async _end(run: IRun, status: string): Promise<void> {
    const caps = this._me!.capabilities;
    if (!run.workflow && (caps.VIEW_DETAILS || caps.ADMIN)) {
      // it ended before its workflow was loaded: ask for the run (VIEW_DETAILS), else say its id
      try {
        run = (await this._api.request<{ run: IRun }>(`runs/${run.id}`)).run;
      } catch {
        // the notification names the run only
      }
    }
    this._ended.emit({ run, status });
  }

  // ---- loading --------------------------------------------------------------------------------

  private _reload(runs: boolean, approvals: boolean): void {
    this._due.runs ||= runs;
    this._due.approvals ||= approvals;
    if ((this._due.runs || this._due.approvals) && this._timer === undefined) {
      this._timer = window.setTimeout(() => void this._drain(), RELOAD_DELAY);
    }
  }

  // one load at a time; what was asked meanwhile loads next
  private async _drain(): Promise<void> {
    const { runs, approvals } = this._due;
    this._due = { runs: false, approvals: false };
    try {
      await Promise.all([runs ? this._loadRuns() : null, approvals ? this._loadApprovals(true) : null]);
    } finally {
      this._timer = undefined;
      this._reload(false, false);
    }
  }

  private async _loadRuns(): Promise<void> {
    const me = this._me!;
    if (!me.capabilities.VIEW_RUNS && !me.capabilities.ADMIN) {
      return; // the events alone tell about the runs I start
    }
    let found: IRun[];
    try {
      // my name in the text search narrows each status to a few runs; mine are then picked
      const pages = await Promise.all(ACTIVE.map((status) => this._api.runs(status, me.user)));
      found = pages.flat().filter((run) => run.created_by === me.user);
    } catch (error) {
      console.warn('wfnb: my runs could not be loaded', error);
      return;
    }
    const mine = new Map<string, IRun>();
    for (const run of found.sort((a, b) => (a.id < b.id ? -1 : 1))) {
      // an end heard while this load was on its way wins over what it found
      if (!this._over.has(run.id)) {
        mine.set(run.id, { ...run, status: this._mine.get(run.id)?.status ?? run.status });
      }
    }
    for (const [id, run] of this._mine) {
      // started since the load asked (its Pending event came in meanwhile)
      if (!mine.has(id) && !run.workflow) {
        mine.set(id, run);
      }
    }
    this._mine = mine;
    this._changed.emit();
  }

  private async _loadApprovals(live: boolean): Promise<void> {
    const caps = this._me!.capabilities;
    if (!caps.APPROVE && !caps.ADMIN) {
      return;
    }
    let found: IApproval[];
    try {
      found = (await this._api.approvals()).filter((a) => a.can_decide);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 403)) {
        console.warn('wfnb: the approvals could not be loaded', error);
      }
      return;
    }
    this._approvals = found;
    this._changed.emit();
    for (const approval of found) {
      const key = `${approval.run_id}:${approval.step}`;
      if (!this._announced.has(key)) {
        this._announced.add(key);
        if (live) {
          this._waiting.emit(approval); // the first load's are counted, not announced
        }
      }
    }
  }

  private _api: Api;
  private _me: IMe | null = null;
  private _mine = new Map<string, IRun>();
  private _over = new Set<string>(); // my runs whose end was heard
  private _approvals: IApproval[] = [];
  private _announced = new Set<string>(); // run:step waiting for me, already known
  private _due = { runs: false, approvals: false };
  private _timer: number | undefined = undefined;
  private _changed = new Signal<this, void>(this);
  private _waiting = new Signal<this, IApproval>(this);
  private _ended = new Signal<this, IEnded>(this);
}
