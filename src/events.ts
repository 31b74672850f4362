// The history's committed events, pushed by the server (`<base_url>/wfnb/api/events`): the
// status bar, the notifications and the workflow files hear what changed here, and reload only
// then (the browser never polls the history). The socket reconnects after a drop, and says so:
// what happened meanwhile was not heard, so listeners load again.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

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
    const { wsUrl, token, appendToken } = this._settings;
    const url = URLExt.join(wsUrl, PATH);
    return appendToken && token ? `${url}?token=${encodeURIComponent(token)}` : url;
  }

  connect(): void {
    if (this._socket !== null || this._disposed) {
      return;
    }
    const socket = (this._socket = new WebSocket(this.url));
    socket.onopen = () => {
      this._delay = FIRST_DELAY;
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
      this._timer = window.setTimeout(() => {
        this._timer = undefined;
        this.connect();
      }, this._delay);
      this._delay = Math.min(this._delay * 2, MAX_DELAY);
    };
  }

  dispose(): void {
    this._disposed = true;
    clearTimeout(this._timer);
    this._socket?.close();
    Signal.clearData(this);
  }

  private _settings: ServerConnection.ISettings;
  private _socket: WebSocket | null = null;
  private _received = new Signal<this, IEvent[]>(this);
  private _reconnected = new Signal<this, void>(this);
  private _delay = FIRST_DELAY;
  private _timer: number | undefined = undefined;
  private _dropped = false;
  private _disposed = false;
}
