import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Widget } from '@lumino/widgets';

import { GalleryPanel } from './gallery';
import { JobsPanel } from './jobs';
import { activatePublishing } from './publish';
import { DatasetSidebar, followSettings } from './search';

const COMMAND = 'jupyter-vlass:open-search';
const JOBS_COMMAND = 'jupyter-vlass:open-jobs';
const GALLERY_COMMAND = 'jupyter-vlass:open-gallery';
const PLUGIN_ID = 'jupyter-vlass:plugin';

/** A palette command that opens (or shows again) one main-area panel. */
function addPanelCommand(
  app: JupyterFrontEnd, palette: ICommandPalette | null, command: string, label: string, id: string,
  title: string, create: () => Widget
): void {
  let panel: MainAreaWidget<Widget> | null = null;
  app.commands.addCommand(command, {
    label,
    execute: () => {
      if (!panel || panel.isDisposed) {
        panel = new MainAreaWidget({ content: create() });
        panel.id = id;
        panel.title.label = title;
      }
      if (!panel.isAttached) {
        app.shell.add(panel, 'main');
      }
      app.shell.activateById(panel.id);
    }
  });
  palette?.addItem({ command, category: 'VLASS' });
}

/** The dataset search in the left sidebar, restored with the layout, opened by a palette command too. */
function addSearchSidebar(app: JupyterFrontEnd, palette: ICommandPalette | null, restorer: ILayoutRestorer | null,
  tracker: INotebookTracker | null, settings: ISettingRegistry | null): void {
  const sidebar = new DatasetSidebar(tracker);
  app.shell.add(sidebar, 'left', { rank: 700 });
  restorer?.add(sidebar, sidebar.id);
  if (settings) {
    followSettings(settings, PLUGIN_ID, sidebar).catch(reason =>
      console.warn('jupyter-vlass: search settings not loaded', reason));
  }
  app.commands.addCommand(COMMAND, {
    label: 'VLASS: Search datasets in a sky region',
    execute: () => app.shell.activateById(sidebar.id)
  });
  palette?.addItem({ command: COMMAND, category: 'VLASS' });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Federated dataset discovery, analysis jobs and signed capsules for radio astronomy.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, INotebookTracker, ISettingRegistry],
  activate: (app: JupyterFrontEnd, palette: ICommandPalette | null, restorer: ILayoutRestorer | null,
    tracker: INotebookTracker | null, settings: ISettingRegistry | null) => {
    addSearchSidebar(app, palette, restorer, tracker, settings);
    addPanelCommand(app, palette, JOBS_COMMAND, 'VLASS: Analysis jobs', 'jupyter-vlass-jobs-main', 'VLASS jobs',
      () => new JobsPanel(app));
    addPanelCommand(app, palette, GALLERY_COMMAND, 'VLASS: Published analyses', 'jupyter-vlass-gallery-main',
      'Published analyses', () => new GalleryPanel());
    activatePublishing(app, palette, tracker);
  }
};

export default plugin;
