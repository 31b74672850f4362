// A view of the server (gallery, runs, run details, ...) in a Lumino widget: opened by name
// and arguments, drawn by the view's own ES module (its `_esm` text, as anywidget loads it),
// styled by its `_css`, and driven by a RemoteModel.
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { IFrame, IViewSpec, ViewsConnection } from './connection';
import { RemoteModel } from './model';

/** What a view asks of the shell: open another view, or close this one. */
export interface IIntent {
  action: string;
  workflow?: string;
  run_id?: string;
  params?: Record<string, unknown>;
  [key: string]: unknown;
}

type Cleanup = void | (() => void | Promise<void>);
interface IViewModule {
  initialize?(props: { model: RemoteModel }): Cleanup | Promise<Cleanup>;
  render(props: { model: RemoteModel; el: HTMLElement }): Cleanup | Promise<Cleanup>;
}

let counter = 0;

export class ViewWidget extends Widget {
  constructor(
    connection: ViewsConnection,
    spec: IViewSpec,
    onIntent: (intent: IIntent, from: ViewWidget) => void
  ) {
    super();
    this.addClass('jp-wfnb-View');
    this.spec = spec;
    this._connection = connection;
    this._onIntent = onIntent;
    this._viewId = `${spec.view}-${Date.now().toString(36)}-${++counter}`;
    this._model = new RemoteModel(connection, this._viewId);
    this.node.dataset.view = spec.view;
    this._line('Loading…', 'jp-wfnb-loading');
  }

  readonly spec: IViewSpec;

  get model(): RemoteModel {
    return this._model;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._connection.close(this._viewId);
    this._model.dispose();
    const cleanup = this._cleanup;
    this._cleanup = undefined;
    try {
      cleanup?.();
    } catch (error) {
      console.error('wfnb: a view cleanup failed', error);
    }
    super.dispose();
  }

  // the server builds the view when it is first shown: a hidden sidebar costs nothing
  protected onAfterShow(msg: Message): void {
    this._open();
  }

  protected onAfterAttach(msg: Message): void {
    if (this.isVisible) {
      this._open();
    }
  }

  private _open(): void {
    if (this._opened || this.isDisposed) {
      return;
    }
    this._opened = true;
    this._connection.open(this._viewId, this.spec, (frame) => this._frame(frame));
  }

  private _frame(frame: IFrame): void {
    switch (frame.op) {
      case 'opened':
        this._model.opened(frame.state ?? {});
        if (!this._rendering) {
          this._rendering = true;
          void this._render();
        }
        break;
      case 'update':
        this._model.updated(frame.state ?? {});
        break;
      case 'custom':
        this._model.custom(frame.content);
        break;
      case 'intent':
        this._onIntent(frame.content as IIntent, this);
        break;
      case 'refused':
        // the user may not open it: one line, as the cell views say it
        this._connection.forget(this._viewId);
        this._line(frame.message ?? 'Permission denied.', 'wfnb-denied');
        break;
      case 'error':
        if (this._rendering) {
          console.error(`wfnb ${this.spec.view}: ${frame.message}`);
        } else {
          this._connection.forget(this._viewId);
          this._line(frame.message ?? 'The view could not be opened.', 'wfnb-error');
        }
        break;
    }
  }

  private async _render(): Promise<void> {
    const model = this._model;
    try {
      addStyle(String(model.get('_css') ?? ''));
      const view = await load(String(model.get('_esm') ?? ''));
      if (this.isDisposed) {
        return;
      }
      const el = document.createElement('div');
      el.className = 'jp-wfnb-View-content';
      await view.initialize?.({ model });
      this.node.replaceChildren(el);
      const cleanup = await view.render({ model, el });
      if (this.isDisposed) {
        await (typeof cleanup === 'function' ? cleanup() : undefined);
      } else if (typeof cleanup === 'function') {
        this._cleanup = cleanup;
      }
    } catch (error) {
      console.error(`wfnb ${this.spec.view}: the view failed to draw`, error);
      this._line(`The view failed to draw: ${error}`, 'wfnb-error');
    }
  }

  // one line in place of the view (loading, refused, an error)
  private _line(text: string, kind: string): void {
    const line = document.createElement('div');
    line.className = `jp-wfnb-line ${kind}`;
    line.setAttribute('role', kind === 'jp-wfnb-loading' ? 'status' : 'alert');
    line.textContent = text;
    this.node.replaceChildren(line);
  }

  private _connection: ViewsConnection;
  private _model: RemoteModel;
  private _viewId: string;
  private _onIntent: (intent: IIntent, from: ViewWidget) => void;
  private _opened = false;
  private _rendering = false;
  private _cleanup: (() => void | Promise<void>) | undefined = undefined;
}

// --- modules and styles, once per text ---------------------------------------------------

const modules = new Map<string, Promise<IViewModule>>();
const styles = new Set<string>();

/** The view's module from its source text, through a Blob URL (as anywidget loads `_esm`). */
function load(esm: string): Promise<IViewModule> {
  let module = modules.get(esm);
  if (!module) {
    module = (async () => {
      const url = URL.createObjectURL(new Blob([esm], { type: 'text/javascript' }));
      try {
        const mod = await import(/* webpackIgnore: true */ url);
        const def = mod.default;
        const view: IViewModule = typeof def === 'function' ? await def() : def;
        if (!view || typeof view.render !== 'function') {
          throw new Error('the module exports no render()');
        }
        return view;
      } finally {
        URL.revokeObjectURL(url);
      }
    })();
    modules.set(esm, module);
    module.catch(() => modules.delete(esm)); // a failure is not kept: the next view tries again
  }
  return module;
}

/** The view's styles, in the page once (run and rerun share the run dialog's). */
function addStyle(css: string): void {
  if (!css || styles.has(css)) {
    return;
  }
  styles.add(css);
  const style = document.createElement('style');
  style.dataset.wfnb = 'view';
  style.textContent = css;
  document.head.append(style);
}
