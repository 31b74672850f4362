// The views' intents as main-area tabs: one tab per thing shown (the runs of a workflow, a
// run, a workflow's editor, ...); asking again for what a tab shows brings that tab forward.
import { JupyterFrontEnd } from '@jupyterlab/application';
import { WidgetTracker } from '@jupyterlab/apputils';

import { IViewSpec, ViewsConnection } from './connection';
import { workflowsIcon } from './icon';
import { IIntent, ViewWidget } from './view';

/** What a tab shows: the view to open, the key that says "the same thing", its title. */
export interface ITabInfo {
  key: string;
  label: string;
  caption: string;
  spec: IViewSpec;
}

/** The tab an intent asks for, or null ("close", or an action no tab answers). */
export function tabFor(intent: IIntent): ITabInfo | null {
  const { action, workflow, run_id: run } = intent;
  const args: IViewSpec['args'] = {};
  if (workflow) {
    args.workflow = String(workflow);
  }
  if (run) {
    args.run_id = String(run);
  }
  if (intent.params && typeof intent.params === 'object') {
    args.params = intent.params;
  }
  if (intent.from_failure === true) {
    args.from_failure = true;
  }
  if (typeof intent.from_step === 'string' && intent.from_step) {
    args.from_step = intent.from_step;
  }
  if (typeof intent.other === 'string' && intent.other) {
    args.other = intent.other;
  }
  const spec = { view: action, args };
  const info = (key: string, label: string, caption: string) => ({ key, label, caption, spec });
  switch (action) {
    case 'runs':
      return workflow
        ? info(`runs:${workflow}`, `Runs: ${workflow}`, `Runs of ${workflow}`)
        : info('runs', 'Workflow runs', 'Runs of all workflows');
    case 'details':
      return run ? info(`details:${run}`, `Run ${run}`, `Run details: ${run}`) : null;
    case 'run':
      return workflow ? info(`run:${workflow}`, `Run ${workflow}`, `Run ${workflow}`) : null;
    case 'rerun': // the run dialog again, filled in with the run's arguments
      if (!(workflow && run)) {
        return null;
      }
      if (args.from_failure) {
        return info(`resume:${run}`, `Resume ${workflow}`, `Resume run ${run} from its failure`);
      }
      if (args.from_step) {
        return info(
          `resume:${run}:${args.from_step}`,
          `Rerun ${workflow} from ${args.from_step}`,
          `Rerun run ${run} from step ${args.from_step}`
        );
      }
      return info(`rerun:${run}`, `Run ${workflow}`, `Rerun of run ${run}`);
    case 'compare': // a run beside another (its parent)
      return run
        ? info(`compare:${args.other ?? ''}:${run}`, `Compare ${run}`, `Compare run ${run}`)
        : null;
    case 'editor':
      return workflow
        ? info(`editor:${workflow}`, `Editor: ${workflow}`, `Editor of ${workflow}`)
        : null;
    case 'inbox':
      return info('inbox', 'Approvals', 'Approvals waiting for your decision');
    case 'schedules':
      return info('schedules', 'Schedules', 'Workflow schedules');
    default:
      return null;
  }
}

export class Tabs {
  /** `other`: what answers the intents no tab answers (open an executed notebook, ...). */
  constructor(
    app: JupyterFrontEnd,
    connection: ViewsConnection,
    other: (intent: IIntent) => void = (intent) => console.debug('wfnb: no tab for', intent)
  ) {
    this._app = app;
    this._connection = connection;
    this._other = other;
  }

  /** The tabs, for the layout restorer: reopened after a reload. */
  readonly tracker = new WidgetTracker<ViewWidget>({ namespace: 'wfnb' });

  /** What the views ask for: open (or bring forward) a tab, close the view's own tab, or
   * something else of the shell's (`other`). */
  handle(intent: IIntent, from?: ViewWidget): ViewWidget | null {
    if (intent.action === 'close') {
      if (from && this._keys.has(from)) {
        from.dispose();
      }
      return null;
    }
    if (tabFor(intent) === null) {
      this._other(intent);
      return null;
    }
    return this.open(intent);
  }

  /** The tab for `intent`, opened or brought forward; null if no tab answers it. */
  open(intent: IIntent): ViewWidget | null {
    const info = tabFor(intent);
    if (info === null) {
      console.debug('wfnb: no tab for', intent);
      return null;
    }
    let tab = this._open.get(info.key);
    if (!tab) {
      tab = new ViewWidget(this._connection, info.spec, (i, w) => this.handle(i, w));
      tab.id = `wfnb-tab-${++this._count}`;
      tab.title.label = info.label;
      tab.title.caption = info.caption;
      tab.title.icon = workflowsIcon;
      tab.title.closable = true;
      tab.node.dataset.key = info.key;
      this._open.set(info.key, tab);
      this._keys.set(tab, info.key);
      tab.disposed.connect(() => {
        this._open.delete(info.key);
        this._keys.delete(tab!);
      });
      this._app.shell.add(tab, 'main');
      void this.tracker.add(tab);
    }
    this._app.shell.activateById(tab.id);
    return tab;
  }

  private _app: JupyterFrontEnd;
  private _connection: ViewsConnection;
  private _other: (intent: IIntent) => void;
  private _open = new Map<string, ViewWidget>();
  private _keys = new Map<ViewWidget, string>();
  private _count = 0;
}
