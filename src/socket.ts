// What the wfnb sockets (views, events) share: their URL, and retrying after a drop.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** A socket's URL under the server's WebSocket base, with the token when Lab sends it too. */
export function socketUrl(settings: ServerConnection.ISettings, path: string): string {
  const { wsUrl, token, appendToken } = settings;
  const url = URLExt.join(wsUrl, path);
  return appendToken && token ? `${url}?token=${encodeURIComponent(token)}` : url;
}

/** Reconnects after a drop, waiting `first` ms, then twice as long each time up to `max`. */
export class Retry {
  constructor(first: number, max: number) {
    this._first = this._delay = first;
    this._max = max;
  }

  /** Whether a retry is waiting to run. */
  get pending(): boolean {
    return this._timer !== undefined;
  }

  /** Call `connect` after the current delay (and wait longer next time). */
  schedule(connect: () => void): void {
    this._timer = window.setTimeout(() => {
      this._timer = undefined;
      connect();
    }, this._delay);
    this._delay = Math.min(this._delay * 2, this._max);
  }

  /** The socket is open again: the next drop waits the first delay. */
  reset(): void {
    this._delay = this._first;
  }

  cancel(): void {
    clearTimeout(this._timer);
    this._timer = undefined;
  }

  private _first: number;
  private _max: number;
  private _delay: number;
  private _timer: number | undefined = undefined;
}
