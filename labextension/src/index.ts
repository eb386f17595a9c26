import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';
import { JobsPanel } from './jobs';
import { activatePublishing } from './publish';

const COMMAND = 'jupyter-vlass:open-search';
const JOBS_COMMAND = 'jupyter-vlass:open-jobs';

interface ISourceStatus { name: string; status: string; count: number; message?: string }
interface IHit {
  id: string; version: string; source: string; title: string; score: number;
  coverage: number; sha256: string | null; citation: string
}
interface ISearchReply { datasets: IHit[]; sources: ISourceStatus[]; elapsed_s: number }

/** A panel: region in, ranked datasets (with citations) and per-source status out. */
export class DatasetSearchPanel extends Widget {
  private region: HTMLInputElement;
  private output: HTMLDivElement;

  constructor() {
    super();
    this.id = 'jupyter-vlass-search';
    this.title.label = 'VLASS datasets';
    this.title.closable = true;
    this.addClass('jp-VlassSearch');
    const form = document.createElement('form');
    this.region = document.createElement('input');
    this.region.placeholder = 'RA,Dec,radius (deg)';
    this.region.value = '210.0,-19.0,0.5';
    this.region.className = 'jp-VlassSearch-region';
    const button = document.createElement('button');
    button.type = 'submit';
    button.textContent = 'Search';
    form.append(this.region, button);
    form.addEventListener('submit', event => {
      event.preventDefault();
      void this.search();
    });
    this.output = document.createElement('div');
    this.output.className = 'jp-VlassSearch-output';
    this.node.append(form, this.output);
  }

  async search(): Promise<void> {
    this.output.textContent = 'Searching...';
    try {
      const reply = await requestAPI<ISearchReply>(
        'datasets?region=' + encodeURIComponent(this.region.value)
      );
      this.render(reply);
    } catch (error) {
      this.output.textContent = `Error: ${(error as Error).message}`;
    }
  }

  private render(reply: ISearchReply): void {
    this.output.replaceChildren();
    const status = document.createElement('p');
    status.className = 'jp-VlassSearch-status';
    status.textContent =
      `${reply.datasets.length} datasets in ${(reply.elapsed_s * 1000).toFixed(0)} ms — ` +
      reply.sources.map(s => `${s.name}: ${s.status} (${s.count})`).join(', ');
    const table = document.createElement('table');
    const head = table.createTHead().insertRow();
    for (const label of ['score', 'source', 'title', 'version', 'covered', 'sha256']) {
      const th = document.createElement('th');
      th.textContent = label;
      head.appendChild(th);
    }
    const body = table.createTBody();
    for (const hit of reply.datasets) {
      const row = body.insertRow();
      row.title = hit.citation;
      const cells = [
        hit.score.toFixed(3), hit.source, hit.title, hit.version,
        `${(hit.coverage * 100).toFixed(1)}%`, (hit.sha256 || '').slice(0, 12)
      ];
      for (const text of cells) {
        row.insertCell().textContent = text; // textContent: never interpreted as HTML
      }
    }
    this.output.append(status, table);
  }
}

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

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-vlass:plugin',
  description: 'Federated dataset discovery, analysis jobs and signed capsules for radio astronomy.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, INotebookTracker],
  activate: (app: JupyterFrontEnd, palette: ICommandPalette | null, _restorer: ILayoutRestorer | null,
    tracker: INotebookTracker | null) => {
    addPanelCommand(app, palette, COMMAND, 'VLASS: Search datasets in a sky region', 'jupyter-vlass-search-main',
      'VLASS datasets', () => new DatasetSearchPanel());
    addPanelCommand(app, palette, JOBS_COMMAND, 'VLASS: Analysis jobs', 'jupyter-vlass-jobs-main', 'VLASS jobs',
      () => new JobsPanel());
    activatePublishing(app, palette, tracker);
  }
};

export default plugin;
