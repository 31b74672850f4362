// Workflows from the files that define them: which file (as JupyterLab's contents name it)
// defines which workflows, from GET workflows and the workspace's contents_path; loaded again
// when a file is saved, renamed or deleted in JupyterLab, or a workflow event says an edit was
// saved. The notebook toolbar's "Run as workflow" and the file browser's "Run workflow" ask it.
import { ToolbarButton } from '@jupyterlab/apputils';
import { DocumentRegistry, DocumentWidget } from '@jupyterlab/docregistry';
import { Contents } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { Api, IWorkflow } from './api';
import { EventsConnection } from './events';
import { workflowsIcon } from './icon';

const RELOAD_DELAY = 300; // ms: a save, or several, loads once

export class WorkflowFiles {
  constructor(api: Api, events: EventsConnection, contents: Contents.IManager) {
    this._api = api;
    contents.fileChanged.connect((_, change) => {
      const paths = [change.oldValue?.path, change.newValue?.path];
      if (paths.some((path) => path && this._mayDefine(path))) {
        this.reload();
      }
    });
    events.received.connect((_, batch) => {
      if (batch.some((e) => e.kind === 'workflow')) {
        this.reload();
      }
    });
    events.reconnected.connect(() => this.reload());
  }

  /** The files' workflows changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The workflows the file at `path` (a contents path) defines, in title order. */
  at(path: string): IWorkflow[] {
    return this._byPath.get(path.replace(/^\/+/, '')) ?? [];
  }

  /** Load again soon (a burst of changes loads once). */
  reload(): void {
    clearTimeout(this._timer);
    this._timer = window.setTimeout(() => void this.load(), RELOAD_DELAY);
  }

  async load(): Promise<void> {
    let base: string | null, workflows: IWorkflow[];
    try {
      const me = await this._api.me();
      base = me.contents_path;
      // without LIST_WORKFLOWS the server would refuse (and record each refusal)
      const lists = me.capabilities.LIST_WORKFLOWS || me.capabilities.ADMIN;
      workflows = base === null || !lists ? [] : await this._api.workflows();
    } catch (error) {
      console.warn('wfnb: the workflow files could not be loaded', error);
      return;
    }
    this._base = base;
    const byPath = new Map<string, IWorkflow[]>();
    for (const workflow of workflows) {
      // a file outside the workspace (an absolute path) is not one the file browser shows
      if (!workflow.path || workflow.path.startsWith('/')) {
        continue;
      }
      const path = base ? `${base}/${workflow.path}` : workflow.path;
      byPath.set(path, [...(byPath.get(path) ?? []), workflow]);
    }
    this._byPath = byPath;
    this._changed.emit();
  }

  // a file that may define workflows: a module, a notebook or a declaration in the workspace
  // (not known yet: any)
  private _mayDefine(path: string): boolean {
    const base = this._base;
    const inside =
      base === undefined || base === '' || (base !== null && path.startsWith(`${base}/`));
    return inside && /\.(py|ipynb|toml)$/.test(path);
  }

  private _api: Api;
  private _base: string | null | undefined = undefined; // the workspace's contents path
  private _byPath = new Map<string, IWorkflow[]>();
  private _timer: number | undefined = undefined;
  private _changed = new Signal<this, void>(this);
}

/** "Run as workflow" in the toolbar of a notebook that is a workflow (hidden in the others). */
export class RunAsWorkflowButton
  implements DocumentRegistry.IWidgetExtension<DocumentWidget, DocumentRegistry.IModel>
{
  constructor(files: WorkflowFiles, run: (path: string) => void) {
    this._files = files;
    this._run = run;
  }

  createNew(
    panel: DocumentWidget,
    context: DocumentRegistry.IContext<DocumentRegistry.IModel>
  ): IDisposable {
    const button = new ToolbarButton({
      icon: workflowsIcon,
      label: 'Run as workflow',
      tooltip: 'Open the run form of the workflow this notebook defines',
      onClick: () => this._run(context.path)
    });
    button.addClass('jp-wfnb-RunAsWorkflow');
    const show = () => button.setHidden(this._files.at(context.path).length === 0);
    show();
    this._files.changed.connect(show);
    context.pathChanged.connect(show);
    button.disposed.connect(() => this._files.changed.disconnect(show));
    panel.toolbar.insertItem(10, 'wfnb-run-as-workflow', button);
    return button;
  }

  private _files: WorkflowFiles;
  private _run: (path: string) => void;
}
