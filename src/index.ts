// wfnb in JupyterLab: the Workflows sidebar (the gallery), the other views as main-area tabs,
// commands in the palette and a launcher tile; a status-bar item and notifications about my
// runs and what waits for my decision; "Run as workflow" on notebooks and "Run Workflow" on
// workflow files; executed notebooks as read-only documents. The views themselves are the cell
// views' ES modules, served by the wfnb server extension over one WebSocket; the rest is the
// REST API and the events socket (docs/server-api.md).
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, InputDialog, Notification } from '@jupyterlab/apputils';
import { PageConfig, PathExt } from '@jupyterlab/coreutils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { Activity } from './activity';
import { Api } from './api';
import { ViewsConnection } from './connection';
import { executedPath, ExecutedNotebooks } from './drive';
import { EventsConnection } from './events';
import { RunAsWorkflowButton, WorkflowFiles } from './files';
import { workflowsIcon } from './icon';
import { Notifier } from './notify';
import { StatusItem } from './status';
import { Tabs } from './tabs';
import { IIntent, ViewWidget } from './view';

const SIDEBAR_ID = 'wfnb-sidebar';
const CATEGORY = 'Workflows';

namespace CommandIDs {
  export const sidebar = 'wfnb:open-sidebar';
  export const runs = 'wfnb:runs';
  export const inbox = 'wfnb:inbox';
  export const schedules = 'wfnb:schedules';
  export const open = 'wfnb:open';
  export const launch = 'wfnb:launch';
  export const runFile = 'wfnb:run-file';
  export const openStatus = 'wfnb:status-open';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'wfnb:plugin',
  description: 'The Workflows sidebar, run pages as tabs, over the wfnb server extension.',
  autoStart: true,
  optional: [
    ICommandPalette,
    ILauncher,
    ILayoutRestorer,
    IStatusBar,
    IFileBrowserFactory,
    ILabShell
  ],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    restorer: ILayoutRestorer | null,
    statusBar: IStatusBar | null,
    browsers: IFileBrowserFactory | null,
    labShell: ILabShell | null
  ) => {
    const api = new Api();
    const events = new EventsConnection();
    events.connect(); // before anything loads: no commit after a load goes unheard
    const connection = new ViewsConnection();
    // executed notebooks open as read-only documents (src/drive.ts says why not as files)
    app.serviceManager.contents.addDrive(new ExecutedNotebooks(api));
    const tabs = new Tabs(app, connection, (intent) => {
      if (intent.action === 'open_notebook') {
        void openExecutedNotebook(app, intent);
      } else {
        console.debug('wfnb: no tab for', intent);
      }
    });

    // the gallery stays in the sidebar: a "close" from it closes nothing
    const sidebar = new ViewWidget(connection, { view: 'gallery', args: {} }, (intent) =>
      tabs.handle(intent)
    );
    sidebar.id = SIDEBAR_ID;
    sidebar.addClass('jp-wfnb-Sidebar');
    sidebar.title.icon = workflowsIcon;
    sidebar.title.caption = 'Workflows';
    app.shell.add(sidebar, 'left', { rank: 600 });

    const { commands } = app;
    const showSidebar = () => app.shell.activateById(SIDEBAR_ID);
    // a fresh JupyterLab (no layout saved yet) on its start page shows the Workflows sidebar,
    // after the file browser has shown itself (at the same moment); opened on a file
    // (/lab/tree/...), the file browser stays, showing its folder; after that, the layout the
    // user left is restored as it was
    void labShell?.restored.then((layout) => {
      if (layout.fresh && !PageConfig.getOption('treePath')) {
        window.setTimeout(showSidebar, 0);
      }
    });
    commands.addCommand(CommandIDs.sidebar, {
      label: 'Workflows: Open sidebar',
      caption: 'Show the workflows: run one, see its runs, open its editor',
      icon: workflowsIcon,
      execute: showSidebar
    });
    commands.addCommand(CommandIDs.runs, {
      label: 'Workflows: View runs',
      caption: 'The runs of all workflows',
      execute: () => tabs.open({ action: 'runs' })
    });
    commands.addCommand(CommandIDs.inbox, {
      label: 'Workflows: Approvals',
      caption: 'The approvals waiting for your decision',
      execute: () => tabs.open({ action: 'inbox' })
    });
    commands.addCommand(CommandIDs.schedules, {
      label: 'Workflows: Schedules',
      caption: 'The schedules of the workflows',
      execute: () => tabs.open({ action: 'schedules' })
    });
    // any view by its intent ({action, workflow?, run_id?, params?}): what the tabs reopen with
    commands.addCommand(CommandIDs.open, {
      label: (args) => `Workflows: Open ${args.action ?? 'view'}`,
      execute: (args) => tabs.open(args as unknown as IIntent)
    });
    // the launcher tile: the sidebar, and the runs in place of the launcher
    commands.addCommand(CommandIDs.launch, {
      label: 'Workflows',
      caption: 'Workflows: the sidebar and the runs of all workflows',
      icon: workflowsIcon,
      execute: () => {
        showSidebar();
        return tabs.open({ action: 'runs' });
      }
    });

    // the status bar and the notifications: my runs and what waits for my decision
    const activity = new Activity(api, events);
    new Notifier(activity, api, (intent) => tabs.open(intent));
    commands.addCommand(CommandIDs.openStatus, {
      label: 'Workflows: Open what waits for me',
      caption: 'The approvals waiting for your decision, or the runs when none waits',
      execute: () => tabs.open({ action: activity.approvals.length ? 'inbox' : 'runs' })
    });
    statusBar?.registerStatusItem('wfnb:status', {
      item: new StatusItem(activity, () => void commands.execute(CommandIDs.openStatus)),
      align: 'left',
      rank: 10
    });
    void activity.start().catch((error) => console.warn('wfnb: not loaded', error));

    // from the files: the file browser's context menu and the notebook toolbar
    const files = new WorkflowFiles(api, events, app.serviceManager.contents);
    void files.load();
    const selected = (): string => {
      const item = browsers?.tracker.currentWidget?.selectedItems().next();
      return item && !item.done ? item.value.path : '';
    };
    commands.addCommand(CommandIDs.runFile, {
      label: 'Run Workflow',
      caption: 'Open the run form of the workflow this file defines',
      icon: workflowsIcon,
      isVisible: (args) => files.at((args.path as string) ?? selected()).length > 0,
      execute: async (args) => {
        const path = (args.path as string) ?? selected();
        const workflow = await chooseWorkflow(path, files);
        return workflow ? tabs.open({ action: 'run', workflow }) : null;
      }
    });
    app.contextMenu.addItem({
      command: CommandIDs.runFile,
      selector: '.jp-DirListing-item[data-isdir="false"]',
      rank: 3
    });
    app.docRegistry.addWidgetExtension(
      'Notebook',
      new RunAsWorkflowButton(files, (path) => void commands.execute(CommandIDs.runFile, { path }))
    );

    if (palette) {
      for (const command of [
        CommandIDs.sidebar,
        CommandIDs.runs,
        CommandIDs.inbox,
        CommandIDs.schedules
      ]) {
        palette.addItem({ command, category: CATEGORY });
      }
    }
    launcher?.add({ command: CommandIDs.launch, category: 'Other', rank: 0 });

    if (restorer) {
      restorer.add(sidebar, SIDEBAR_ID);
      void restorer.restore(tabs.tracker, {
        command: CommandIDs.open,
        args: (tab) => ({ action: tab.spec.view, ...tab.spec.args }) as ReadonlyPartialJSONObject,
        name: (tab) => tab.node.dataset.key ?? tab.id
      });
    }
  }
};

/** The executed notebook of a notebook task (Run Details' link), as a read-only document. */
async function openExecutedNotebook(app: JupyterFrontEnd, intent: IIntent): Promise<void> {
  const { run_id: run, path } = intent;
  if (!run || typeof path !== 'string' || !path) {
    console.warn('wfnb: open_notebook without a run or a path', intent);
    return;
  }
  try {
    await app.commands.execute('docmanager:open', { path: executedPath(run, path) });
  } catch (error) {
    Notification.error(`The executed notebook ${path} of run ${run} could not be opened: ${error}`);
  }
}

/** The workflow the file at `path` defines; the user picks one when it defines several. */
async function chooseWorkflow(path: string, files: WorkflowFiles): Promise<string | null> {
  const found = files.at(path);
  if (found.length === 0) {
    Notification.warning(
      `${path || 'This file'} defines no workflow of the workspace (its wfnb.toml lists the ` +
        'folders wfnb reads workflows from).',
      { autoClose: 8000 }
    );
    return null;
  }
  if (found.length === 1) {
    return found[0].name;
  }
  const items = found.map((w) => `${w.title} (${w.name})`);
  const answer = await InputDialog.getItem({
    title: 'Run which workflow?',
    label: `${PathExt.basename(path)} defines ${found.length} workflows:`,
    items,
    okLabel: 'Open run form'
  });
  return answer.button.accept && answer.value ? found[items.indexOf(answer.value)].name : null;
}

export default plugin;
