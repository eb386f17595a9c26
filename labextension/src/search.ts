import { Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { codeIcon, LabIcon, SidePanel, ToolbarButton } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';

import { requestAPI } from './api';

export const skyIcon = new LabIcon({
  name: 'jupyter-vlass:sky',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<path d="M5 19h14v2H5z"/><path d="M11 14h2v5h-2z"/>' +
    '<path d="M4.2 5.6a9 9 0 0 0 12.7 9.2L4.2 5.6zM14 3a7 7 0 0 1 7 7h-2a5 5 0 0 0-5-5V3zm0 3a4 4 0 0 1 4 4h-2a2 2 0 0 0-2-2V6z"/>' +
    '</g></svg>'
});

export interface ISearchSettings {
  pageSize: number; defaultRadius: number; frame: string; deadline: number; sources: string[]
}
export const DEFAULT_SETTINGS: ISearchSettings = {
  pageSize: 25, defaultRadius: 0.5, frame: 'icrs', deadline: 2, sources: []
};

interface ISourceStatus {
  name: string; status: string; count: number; elapsed_s: number; message?: string; retry_after?: number;
  stale?: boolean; synced_at?: string
}
interface IHit {
  id: string; version: string; source: string; title: string; score: number; coverage: number;
  sha256: string | null; citation: string
}
interface ISearchReply {
  datasets: IHit[]; sources: ISourceStatus[]; elapsed_s: number; total: number; offset: number;
  next_cursor: string | null; region: { ra: number; dec: number; radius: number }
}
interface ICode { id: string; version: string; citation: string; code: string }

const FRAMES: [string, string][] = [['icrs', 'ICRS'], ['fk5', 'FK5 (J2000)'], ['fk4', 'FK4 (B1950)'],
  ['galactic', 'Galactic']];
const VIEW_EXPRESSION = "__import__('jupyter_vlass.widgets.views', fromlist=['current_view']).current_view()";

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text; // textContent: never interpreted as HTML
  return node;
}

function field(label: string, input: HTMLElement): HTMLLabelElement {
  const wrap = element('label', 'jp-VlassSearch-field', label);
  wrap.append(input);
  return wrap;
}

/** The left-sidebar search: a region in any of four frames (or the current Aladin view), source status
 * and latency, ranked results page by page, and code to open a result inserted into the active notebook. */
export class DatasetSidebar extends SidePanel {
  readonly lon = element('input', 'jp-mod-styled jp-VlassSearch-lon');
  readonly lat = element('input', 'jp-mod-styled jp-VlassSearch-lat');
  readonly radius = element('input', 'jp-mod-styled jp-VlassSearch-radius');
  readonly frame = element('select', 'jp-mod-styled jp-VlassSearch-frame');
  private sourcesNode = element('div', 'jp-VlassSearch-sources');
  private resultsNode = element('ol', 'jp-VlassSearch-results');
  private pagerNode = element('div', 'jp-VlassSearch-pager');
  private cursors: (string | null)[] = [null]; // the cursor of every page up to the one shown
  private settings: ISearchSettings = { ...DEFAULT_SETTINGS };
  private ticket = 0; // the latest search; an older one that answers later draws nothing
  private configured = false;

  constructor(private tracker: INotebookTracker | null) {
    super({ content: new Panel() });
    this.id = 'jupyter-vlass-search';
    this.title.icon = skyIcon;
    this.title.caption = 'VLASS datasets';
    this.addClass('jp-VlassSearch');
    const heading = new Widget({ node: element('h2', 'jp-VlassSearch-title', 'VLASS datasets') });
    this.header.addWidget(heading);
    this.toolbar.addItem('aladin-view', new ToolbarButton({
      label: 'Use Aladin view', tooltip: 'Search the region the current Aladin view shows (in the active notebook)',
      className: 'jp-VlassSearch-useView', onClick: () => void this.useAladinView()
    }));
    this.content.addWidget(new Widget({ node: this.buildForm() }));
    const results = new Widget({ node: element('div', 'jp-VlassSearch-output') });
    results.node.append(this.sourcesNode, this.resultsNode, this.pagerNode);
    this.content.addWidget(results);
  }

  private buildForm(): HTMLFormElement {
    const form = element('form', 'jp-VlassSearch-form');
    this.lon.value = '209.25';
    this.lat.value = '-18.0';
    this.radius.value = String(DEFAULT_SETTINGS.defaultRadius);
    for (const [value, label] of FRAMES) {
      const option = element('option', '', label);
      option.value = value;
      this.frame.append(option);
    }
    for (const input of [this.lon, this.lat, this.radius]) {
      input.inputMode = 'decimal';
      input.required = true;
    }
    const search = element('button', 'jp-mod-styled jp-mod-accept jp-VlassSearch-submit', 'Search');
    search.type = 'submit';
    form.append(field('RA / l (deg)', this.lon), field('Dec / b (deg)', this.lat), field('Radius (deg)', this.radius),
      field('Frame', this.frame), search);
    form.addEventListener('submit', event => {
      event.preventDefault();
      void this.search();
    });
    return form;
  }

  /** Apply the settings registry's values (page size, radius, frame, deadline, sources). */
  configure(settings: ISearchSettings): void {
    this.settings = { ...DEFAULT_SETTINGS, ...settings };
    if (!this.configured) { // the defaults fill the form once; later changes leave what the user typed
      this.configured = true;
      this.radius.value = String(this.settings.defaultRadius);
      this.frame.value = this.settings.frame;
    }
  }

  /** Search from the first page. */
  async search(): Promise<void> {
    this.cursors = [null];
    await this.showPage();
  }

  private async showPage(): Promise<void> {
    const ticket = ++this.ticket;
    const params = new URLSearchParams({
      region: [this.lon.value, this.lat.value, this.radius.value].map(v => v.trim()).join(','),
      frame: this.frame.value, limit: String(this.settings.pageSize), deadline: String(this.settings.deadline)
    });
    const cursor = this.cursors[this.cursors.length - 1];
    if (cursor) {
      params.set('cursor', cursor);
    }
    if (this.settings.sources.length) {
      params.set('sources', this.settings.sources.join(','));
    }
    this.node.dataset.state = 'searching';
    try {
      const reply = await requestAPI<ISearchReply>('datasets?' + params.toString());
      if (ticket === this.ticket) {
        this.render(reply);
      }
    } catch (error) {
      if (ticket === this.ticket) {
        console.error('jupyter-vlass search:', error);
        this.node.dataset.state = 'error';
        Notification.error(`VLASS search: ${(error as Error).message}`, { autoClose: 8000 });
      }
    }
  }

  private render(reply: ISearchReply): void {
    this.node.dataset.state = 'done';
    this.sourcesNode.replaceChildren(...reply.sources.map(s => {
      const chip = element('span', `jp-VlassSearch-source jp-mod-${s.status}`,
        `${s.name} ${s.status === 'ok' ? s.count : s.status} · ${(s.elapsed_s * 1000).toFixed(0)} ms`);
      chip.dataset.source = s.name;
      chip.title = s.message || (s.stale ? `stale: synced ${s.synced_at ?? 'never'}` : `${s.count} datasets`);
      return chip;
    }));
    const trouble = reply.sources.filter(s => s.status !== 'ok');
    if (trouble.length) {
      Notification.warning('VLASS search: ' + trouble.map(s => `${s.name} ${s.status.replace('_', ' ')}` +
        (s.retry_after ? ` (retry in ${Math.ceil(s.retry_after)} s)` : '')).join(', '), { autoClose: 8000 });
    }
    this.resultsNode.replaceChildren(...reply.datasets.map(hit => this.hitNode(hit)));
    this.resultsNode.start = reply.offset + 1;
    const first = reply.datasets.length ? reply.offset + 1 : 0;
    const summary = element('span', 'jp-VlassSearch-count',
      `${first}–${reply.offset + reply.datasets.length} of ${reply.total} in ${(reply.elapsed_s * 1000).toFixed(0)} ms`);
    const previous = element('button', 'jp-mod-styled jp-VlassSearch-previous', '‹ Prev');
    previous.disabled = this.cursors.length < 2;
    previous.onclick = () => {
      this.cursors.pop();
      void this.showPage();
    };
    const next = element('button', 'jp-mod-styled jp-VlassSearch-next', 'Next ›');
    next.disabled = !reply.next_cursor;
    next.onclick = () => {
      this.cursors.push(reply.next_cursor);
      void this.showPage();
    };
    this.pagerNode.replaceChildren(previous, summary, next);
  }

  private hitNode(hit: IHit): HTMLLIElement {
    const item = element('li', 'jp-VlassSearch-hit');
    item.dataset.datasetId = hit.id;
    item.dataset.version = hit.version;
    item.title = hit.citation;
    const insert = element('button', 'jp-Button jp-mod-minimal jp-ToolbarButtonComponent jp-VlassSearch-insert');
    insert.type = 'button';
    insert.title = 'Insert code to open this version into the active notebook';
    insert.setAttribute('aria-label', insert.title);
    insert.append(codeIcon.element({ tag: 'span', elementPosition: 'center' }));
    insert.onclick = event => {
      event.stopPropagation();
      void this.insertCode(hit);
    };
    const meta = `${hit.source} · ${hit.version} · score ${hit.score.toFixed(3)} · ` +
      `${(hit.coverage * 100).toFixed(1)}% covered` + (hit.sha256 ? ` · ${hit.sha256.slice(0, 10)}` : '');
    const text = element('div', 'jp-VlassSearch-hitText');
    text.append(element('div', 'jp-VlassSearch-hitTitle', hit.title), element('div', 'jp-VlassSearch-hitMeta', meta));
    item.append(text, insert);
    return item;
  }

  /** Insert code that opens ``hit`` (pinned by version and sha256, citing it) below the active cell. */
  async insertCode(hit: IHit): Promise<void> {
    const notebook = this.tracker?.currentWidget;
    if (!notebook) {
      Notification.warning('Open a notebook to insert the code into.', { autoClose: 5000 });
      return;
    }
    try {
      const reply = await requestAPI<ICode>(
        `datasets/${encodeURIComponent(hit.id)}/code?version=${encodeURIComponent(hit.version)}`);
      NotebookActions.insertBelow(notebook.content);
      notebook.content.activeCell?.model.sharedModel.setSource(reply.code.trimEnd());
      Notification.info(`Inserted code to open ${hit.id} version ${hit.version}.`, { autoClose: 3000 });
    } catch (error) {
      Notification.error(`VLASS: ${(error as Error).message}`, { autoClose: 8000 });
    }
  }

  /** Fill the region from the Aladin view the active notebook's kernel moved last, and search it. */
  async useAladinView(): Promise<void> {
    const kernel = this.tracker?.currentWidget?.sessionContext.session?.kernel;
    if (!kernel) {
      Notification.warning('Open a notebook with a running kernel and an Aladin view first.', { autoClose: 5000 });
      return;
    }
    const reply = await kernel.requestExecute({
      code: '', silent: true, store_history: false, user_expressions: { view: VIEW_EXPRESSION }
    }).done;
    const answer = (reply.content as any).user_expressions?.view;
    const view = answer?.status === 'ok' ? answer.data?.['application/json'] : undefined;
    if (!view) {
      Notification.warning(answer?.status === 'error'
        ? `No Aladin view: ${answer.evalue}` : 'This notebook shows no Aladin view yet.', { autoClose: 5000 });
      return;
    }
    this.lon.value = view.ra.toFixed(6);
    this.lat.value = view.dec.toFixed(6);
    this.radius.value = Math.min(view.fov / 2, 180).toPrecision(4);
    this.frame.value = 'icrs';
    await this.search();
  }
}

/** Keep ``sidebar`` in step with the settings registry (``jupyter-vlass:plugin``). */
export async function followSettings(registry: ISettingRegistry, pluginId: string,
  sidebar: DatasetSidebar): Promise<void> {
  const settings = await registry.load(pluginId);
  const apply = () => sidebar.configure(settings.composite as unknown as ISearchSettings);
  apply();
  settings.changed.connect(apply);
}
