import { Notification } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';

interface IEntry {
  id: string;
  title: string;
  owner: string;
  status: string;
  published: string | null;
  replays: number;
  forks: number;
  inputs: { id: string; version: string }[];
  marks: { mark: string; explanation: string; by: string | null }[];
  links: { page: string | null; fork: string };
}

interface IPage {
  entries: IEntry[];
  total: number;
  next_cursor: string | null;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text; // textContent: never interpreted as HTML
  return node;
}

/** The hub's published analyses: search (sky region, author, status, order), each entry's standing, its page on
 * the hub and "Fork into my server" (the compatibility report first, on this server's fork page). */
export class GalleryPanel extends Widget {
  private readonly region = element('input', 'jp-VlassGallery-region');
  private readonly author = element('input', 'jp-VlassGallery-author');
  private readonly status = element('select', 'jp-VlassGallery-statusFilter');
  private readonly sort = element('select', 'jp-VlassGallery-sortBy');
  private readonly summary = element('p', 'jp-VlassGallery-summary');
  private readonly list = element('ul', 'jp-VlassGallery-list');
  private ticket = 0;

  constructor() {
    super();
    this.id = 'jupyter-vlass-gallery';
    this.title.label = 'Published analyses';
    this.title.closable = true;
    this.addClass('jp-VlassGallery');
    this.region.placeholder = 'RA,Dec,radius (deg)';
    this.author.placeholder = 'author';
    for (const [select, values] of [[this.status, ['', 'verified', 'updated', 'retracted', 'unverified', 'failed']],
      [this.sort, ['newest', 'most_reproduced', 'controversial']]] as [HTMLSelectElement, string[]][]) {
      for (const value of values) {
        const option = element('option', '', value ? value.replace('_', ' ') : 'any status');
        option.value = value;
        select.append(option);
      }
    }
    const form = element('form', 'jp-VlassGallery-form');
    const search = element('button', 'jp-mod-styled jp-mod-accept jp-VlassGallery-search', 'Search');
    search.type = 'submit';
    form.append(this.region, this.author, this.status, this.sort, search);
    form.addEventListener('submit', event => {
      event.preventDefault();
      void this.refresh();
    });
    this.node.append(form, this.summary, this.list);
  }

  onAfterAttach(): void {
    void this.refresh();
  }

  async refresh(): Promise<void> {
    const ticket = ++this.ticket;
    const params = new URLSearchParams({ sort: this.sort.value, limit: '50' });
    for (const [name, value] of [['region', this.region.value], ['author', this.author.value],
      ['status', this.status.value]]) {
      if (value.trim()) {
        params.set(name, value.trim());
      }
    }
    this.node.dataset.state = 'searching';
    try {
      const page = await requestAPI<IPage>('gallery?' + params.toString());
      if (ticket === this.ticket) {
        this.render(page);
      }
    } catch (error) {
      if (ticket === this.ticket) {
        this.node.dataset.state = 'error';
        this.summary.textContent = `Error: ${(error as Error).message}`;
        Notification.error(`Published analyses: ${(error as Error).message}`, { autoClose: 8000 });
      }
    }
  }

  private render(page: IPage): void {
    this.node.dataset.state = 'done';
    this.summary.textContent = `${page.total} published analyses` + (page.next_cursor ? ` (the first ${page.entries.length})` : '');
    this.list.replaceChildren(...page.entries.map(entry => this.entryNode(entry)));
  }

  private entryNode(entry: IEntry): HTMLLIElement {
    const item = element('li', `jp-VlassGallery-entry jp-mod-${entry.status}`);
    item.dataset.capsuleId = entry.id;
    const heading = element('div', 'jp-VlassGallery-heading');
    heading.append(element('span', 'jp-VlassGallery-status', entry.status), element('b', '', ` ${entry.title}`));
    const datasets = entry.inputs.map(p => `${p.id}@${p.version}`).join(', ') || 'no dataset';
    const meta = element('div', 'jp-VlassGallery-meta',
      `by ${entry.owner}, ${entry.published ?? 'unpublished'} · ${datasets} · reproduced by ${entry.replays}, ` +
      `${entry.forks} fork${entry.forks === 1 ? '' : 's'}`);
    item.append(heading, meta);
    for (const mark of entry.marks.filter(m => m.mark === 'Retracted')) {
      item.append(element('div', 'jp-VlassGallery-tombstone',
        `Retracted${mark.by ? ` by ${mark.by}` : ''}: ${mark.explanation}`));
    }
    const actions = element('div', 'jp-VlassGallery-actions');
    if (entry.links.page) {
      const open = element('a', 'jp-VlassGallery-open', 'Open (preview)');
      open.href = entry.links.page;
      open.target = '_blank';
      open.rel = 'noopener';
      actions.append(open);
    }
    const fork = element('a', 'jp-VlassGallery-fork', 'Fork into my server');
    fork.href = entry.links.fork;
    fork.target = '_blank';
    fork.rel = 'noopener';
    actions.append(fork);
    item.append(actions);
    return item;
  }
}
