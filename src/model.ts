// anywidget's model interface over the views socket: the same view modules that draw in a
// notebook cell (behind anywidget's model, over a kernel comm) draw here behind this one.
import { State, ViewsConnection } from './connection';

type Callback = (...args: any[]) => void;

export class RemoteModel {
  constructor(connection: ViewsConnection, id: string) {
    this._connection = connection;
    this._id = id;
  }

  get(name: string): any {
    return this._state[name];
  }

  /** Change a value here (its `change:name` listeners run at once); `save_changes()` sends it. */
  set(name: string, value: unknown): void {
    this._dirty[name] = value;
    this._change({ [name]: value });
  }

  save_changes(): void {
    if (Object.keys(this._dirty).length === 0) {
      return;
    }
    const state = this._dirty;
    this._dirty = {};
    this._connection.send({ op: 'update', id: this._id, state });
  }

  /** Listen to `change:name`, `change` (any value) or `msg:custom` (the server's messages). */
  on(event: string, callback: Callback): void {
    for (const name of event.split(/\s+/).filter(Boolean)) {
      let set = this._listeners.get(name);
      if (!set) {
        this._listeners.set(name, (set = new Set()));
      }
      set.add(callback);
    }
  }

  /** Stop listening: to one event (with or without one callback), or to everything. */
  off(event?: string | null, callback?: Callback | null): void {
    const names = event ? event.split(/\s+/).filter(Boolean) : [...this._listeners.keys()];
    for (const name of names) {
      if (callback) {
        this._listeners.get(name)?.delete(callback);
      } else {
        this._listeners.delete(name);
      }
    }
  }

  /** A message to the view's Python half (its intents and actions). */
  send(content: unknown, _callbacks?: unknown, _buffers?: unknown): void {
    this._connection.send({ op: 'custom', id: this._id, content });
  }

  // --- what the server says ---------------------------------------------------------------

  /** The whole state (`opened`, also after a reconnect: only what differs fires). */
  opened(state: State): void {
    this._change(state);
  }

  updated(state: State): void {
    this._change(state);
  }

  custom(content: unknown): void {
    this._emit('msg:custom', content, []);
  }

  dispose(): void {
    this._listeners.clear();
  }

  private _change(state: State): void {
    const changed = Object.keys(state).filter((name) => !same(this._state[name], state[name]));
    for (const name of changed) {
      this._state[name] = state[name];
    }
    for (const name of changed) {
      this._emit(`change:${name}`, this, state[name]);
    }
    if (changed.length) {
      this._emit('change', this);
    }
  }

  private _emit(event: string, ...args: unknown[]): void {
    for (const callback of [...(this._listeners.get(event) ?? [])]) {
      try {
        callback(...args);
      } catch (error) {
        console.error(`wfnb: a "${event}" listener failed`, error);
      }
    }
  }

  private _connection: ViewsConnection;
  private _id: string;
  // `_host` tells a view where it draws: "lab" (a cell has none), so Run Details offers its
  // executed notebooks as documents to open; the server never sends it
  private _state: State = { _host: 'lab' };
  private _dirty: State = {};
  private _listeners = new Map<string, Set<Callback>>();
}

/** Equal as JSON values (what the state holds). */
function same(a: unknown, b: unknown): boolean {
  if (a === b) {
    return true;
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return false;
  }
  if (Array.isArray(a) !== Array.isArray(b)) {
    return false;
  }
  const ka = Object.keys(a),
    kb = Object.keys(b);
  return (
    ka.length === kb.length &&
    ka.every((k) => same((a as State)[k], (b as State)[k]))
  );
}
