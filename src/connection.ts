// One WebSocket to the server's views (`<base_url>/wfnb/api/views`), shared by every view of
// the page. Each view registers under its own id; the connection opens it on the server, and
// opens it again after a reconnect (the server forgets a page's views when its socket closes).
import { ServerConnection } from '@jupyterlab/services';

import { Retry, socketUrl } from './socket';

export type State = Record<string, unknown>;

/** A frame from the server about one view (`opened`, `update`, `custom`, `intent`, ...). */
export interface IFrame {
  op: string;
  id: string | null;
  state?: State;
  content?: any;
  message?: string;
  capability?: string;
}

/** What a view asks the server to open: a view name and its arguments. */
export interface IViewSpec {
  view: string;
  args: {
    workflow?: string;
    run_id?: string;
    params?: Record<string, unknown>;
    from_failure?: boolean;
    from_step?: string;
    other?: string;
  };
}

const PATH = 'wfnb/api/views';
const FIRST_DELAY = 250; // ms before the first reconnect; doubles up to MAX_DELAY
const MAX_DELAY = 10_000;

export class ViewsConnection {
  constructor(settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {
    this._settings = settings;
  }

  /** The socket's URL: the server's WebSocket base URL, with the token when Lab sends it too. */
  get url(): string {
    return socketUrl(this._settings, PATH);
  }

  /** Open `spec` on the server as `id`; frames about it go to `handler` until `close(id)`. */
  open(id: string, spec: IViewSpec, handler: (frame: IFrame) => void): void {
    this._views.set(id, { spec, handler });
    this._send({ op: 'open', id, view: spec.view, args: spec.args });
  }

  /** Tell the server about a view's change (`update`) or message (`custom`). */
  send(frame: { op: 'update' | 'custom'; id: string; [key: string]: unknown }): void {
    if (this._views.has(frame.id)) {
      this._send(frame);
    }
  }

  /** Stop hearing about `id`, and close it on the server. */
  close(id: string): void {
    if (this._views.delete(id) && this._isOpen()) {
      this._socket!.send(JSON.stringify({ op: 'close', id }));
    }
  }

  /** Forget `id` without telling the server (it refused or never built the view). */
  forget(id: string): void {
    this._views.delete(id);
  }

  dispose(): void {
    this._disposed = true;
    this._retry.cancel();
    this._socket?.close();
    this._views.clear();
  }

  private _isOpen(): boolean {
    return this._socket !== null && this._socket.readyState === WebSocket.OPEN;
  }

  // frames sent while the socket is (re)connecting wait; opens are not queued: every
  // registered view is opened when the socket opens
  private _send(frame: { op: string; id: string; [key: string]: unknown }): void {
    if (this._isOpen()) {
      this._socket!.send(JSON.stringify(frame));
      return;
    }
    if (frame.op !== 'open') {
      this._queue.push(frame);
    }
    this._connect();
  }

  private _connect(): void {
    if (this._socket !== null || this._disposed || this._retry.pending) {
      return;
    }
    const socket = (this._socket = new WebSocket(this.url));
    socket.onopen = () => {
      this._retry.reset();
      for (const [id, { spec }] of this._views) {
        socket.send(JSON.stringify({ op: 'open', id, view: spec.view, args: spec.args }));
      }
      const queued = this._queue.splice(0);
      for (const frame of queued) {
        if (this._views.has(frame.id)) {
          socket.send(JSON.stringify(frame));
        }
      }
    };
    socket.onmessage = (event: MessageEvent) => this._receive(event.data);
    socket.onclose = () => {
      this._socket = null;
      if (this._disposed || (this._views.size === 0 && this._queue.length === 0)) {
        return; // nothing to reopen: the next open() connects again
      }
      // the server went away (restart, network): try again, waiting longer each time
      this._retry.schedule(() => this._connect());
    };
  }

  private _receive(data: unknown): void {
    let frame: IFrame;
    try {
      frame = JSON.parse(String(data));
    } catch {
      console.error('wfnb: a frame that is not JSON', data);
      return;
    }
    const view = frame.id === null ? undefined : this._views.get(frame.id);
    if (view) {
      view.handler(frame);
    } else if (frame.op === 'error') {
      console.error(`wfnb: ${frame.message}`);
    }
  }

  private _settings: ServerConnection.ISettings;
  private _socket: WebSocket | null = null;
  private _views = new Map<string, { spec: IViewSpec; handler: (frame: IFrame) => void }>();
  private _queue: { op: string; id: string; [key: string]: unknown }[] = [];
  private _retry = new Retry(FIRST_DELAY, MAX_DELAY);
  private _disposed = false;
}
