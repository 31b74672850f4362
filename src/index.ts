// wfnb in JupyterLab: the Workflows sidebar (the gallery), the other views as main-area tabs,
// commands in the palette and a launcher tile. The views themselves are the cell views' ES
// modules, served by the wfnb server extension over one WebSocket.
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { ViewsConnection } from './connection';
import { workflowsIcon } from './icon';
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
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'wfnb:plugin',
  description: 'The Workflows sidebar, run pages as tabs, over the wfnb server extension.',
  autoStart: true,
  optional: [ICommandPalette, ILauncher, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    restorer: ILayoutRestorer | null
  ) => {
    const connection = new ViewsConnection();
    const tabs = new Tabs(app, connection);

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

export default plugin;
