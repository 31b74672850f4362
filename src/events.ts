// The history's committed events, pushed by the server (`<base_url>/wfnb/api/events`): the
// status bar, the notifications and the workflow files hear what changed here, and reload only
// then (the browser never polls the history). The socket reconnects after a drop, and says so:
// what happened meanwhile was not heard, so listeners load again.
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { Retry, socketUrl } from './socket';

/** One history event (docs/server-api.md#events). */
export interface IEvent {
  seq: number | null;
  ts: string;
  run_id: string | null;
  task_id: string | null;
  kind: string;
  status: string | null;
  actor: string | null;
  data: any;
}

const PATH = 'wfnb/api/events';
const FIRST_DELAY = 500; // ms before the first reconnect; doubles up to MAX_DELAY
const MAX_DELAY = 15_000;

export class EventsConnection {
  constructor(settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {
    this._settings = settings;
  }

  /** Each committed batch of events this user may see, in commit order. */
  get received(): ISignal<this, IEvent[]> {
    return this._received;
  }

  /** The socket opened again after a drop: events may have been missed. */
  get reconnected(): ISignal<this, void> {
    return this._reconnected;
  }

  /** Whether the socket is open (events are heard). */
  get isOpen(): boolean {
    return this._socket?.readyState === WebSocket.OPEN;
  }

  get url(): string {
    return socketUrl(this._settings, PATH);
  }

  connect(): void {
    if (this._socket !== null || this._disposed) {
      return;
    }
    const socket = (this._socket = new WebSocket(this.url));
    socket.onopen = () => {
      this._retry.reset();
      if (this._dropped) {
        this._dropped = false;
        this._reconnected.emit();
      }
    };
    socket.onmessage = (message: MessageEvent) => {
      let events: IEvent[];
      try {
        events = JSON.parse(String(message.data)).events ?? [];
      } catch {
        console.error('wfnb: an events frame that is not JSON', message.data);
        return;
      }
      if (events.length) {
        this._received.emit(events);
      }
    };
    socket.onclose = () => {
      this._socket = null;
      if (this._disposed) {
        return;
      }
      this._dropped = true;
      this._retry.schedule(() => this.connect());
    };
  }

  dispose(): void {
    this._disposed = true;
    this._retry.cancel();
    this._socket?.close();
    Signal.clearData(this);
  }

  private _settings: ServerConnection.ISettings;
  private _socket: WebSocket | null = null;
  private _received = new Signal<this, IEvent[]>(this);
  private _reconnected = new Signal<this, void>(this);
  private _retry = new Retry(FIRST_DELAY, MAX_DELAY);
  private _dropped = false;
  private _disposed = false;
}
