import { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';

/** Where the hub's Slurm spawner writes each server start's log (its `logs_folder`), under the home. */
export const SERVER_LOGS = 'vlass-server-logs';

interface IFile { name: string; sha256: string; size: number }
export interface IJob {
  id: string; state: string; reason: string | null; site: string; notebook: string | null;
  cached_from: string | null; created_at: string; elapsed_s: number | null; walltime_s: number | null;
  request: { partition: string; gpus: number; gpu_type: string | null } | null;
  result: { location: string; files: IFile[] } | null
}

const ENDED = new Set(['done', 'failed', 'cancelled']);

/** Seconds as h:mm:ss (or m:ss under an hour). */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const [h, m, r] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const mm = h ? String(m).padStart(2, '0') : String(m);
  return `${h ? `${h}:` : ''}${mm}:${String(r).padStart(2, '0')}`;
}

/** "elapsed / limit" of a job ("–" before it starts; no limit on the local site). */
export function timeUsed(job: IJob): string {
  const used = job.elapsed_s === null ? '–' : clock(job.elapsed_s);
  return job.walltime_s ? `${used} / ${clock(job.walltime_s)}` : used;
}

/** The GPUs a job asked for ("A100 x1"), or "–" for none. */
export function gpusAsked(job: IJob): string {
  const asked = job.request;
  return asked && asked.gpus ? `${(asked.gpu_type || 'GPU').toUpperCase()} x${asked.gpus}` : '–';
}

function cell(row: HTMLTableRowElement, text: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text; // textContent: never interpreted as HTML
  return td;
}

/** The user's analysis jobs: list, details with the result files and the log tail, cancel. */
export class JobsPanel extends Widget {
  private list: HTMLTableSectionElement;
  private details: HTMLDivElement;
  private status: HTMLParagraphElement;
  private selected: string | null = null;
  private timer: number | undefined;
  private ticket = 0; // the latest refresh; an older one that finishes later draws nothing
  private failing = ''; // the error the last refresh told the user of (told once, not every 3 s)
  private logs: HTMLAnchorElement;

  constructor(private app?: JupyterFrontEnd) {
    super();
    this.id = 'jupyter-vlass-jobs';
    this.title.label = 'VLASS jobs';
    this.title.closable = true;
    this.addClass('jp-VlassJobs');
    this.status = document.createElement('p');
    this.status.className = 'jp-VlassJobs-status';
    const table = document.createElement('table');
    table.className = 'jp-VlassJobs-list';
    const head = table.createTHead().insertRow();
    for (const label of ['job', 'state', 'site', 'notebook', 'GPUs', 'elapsed / limit', 'why']) {
      const th = document.createElement('th');
      th.textContent = label;
      head.appendChild(th);
    }
    this.list = table.createTBody();
    this.details = document.createElement('div');
    this.details.className = 'jp-VlassJobs-details';
    this.logs = document.createElement('a');
    this.logs.className = 'jp-VlassJobs-serverLogs';
    this.logs.href = '#';
    this.logs.hidden = true;
    this.logs.textContent = `Server logs (~/${SERVER_LOGS})`;
    this.logs.title = 'The log of each start of your server on the cluster';
    this.logs.onclick = event => {
      event.preventDefault();
      void this.app?.commands.execute('filebrowser:go-to-path', { path: `/${SERVER_LOGS}/` });
    };
    this.node.append(this.status, this.logs, table, this.details);
  }

  /** The server logs link, when the folder is there (a server started on the cluster made it). */
  private async showLogsLink(): Promise<void> {
    try {
      await this.app?.serviceManager.contents.get(SERVER_LOGS, { content: false });
      this.logs.hidden = !this.app;
    } catch {
      this.logs.hidden = true;
    }
  }

  protected onAfterAttach(): void {
    void this.showLogsLink();
    void this.refresh();
    this.timer = window.setInterval(() => void this.refresh(), 3000);
  }

  protected onBeforeDetach(): void {
    window.clearInterval(this.timer);
  }

  async refresh(): Promise<void> {
    const ticket = ++this.ticket;
    try {
      const reply = await requestAPI<{ jobs: IJob[] }>('jobs');
      if (ticket !== this.ticket) {
        return;
      }
      this.renderList(reply.jobs);
      const current = reply.jobs.find(job => job.id === this.selected);
      if (current) {
        await this.renderDetails(current, ticket);
      }
      this.failing = '';
    } catch (error) {
      const message = (error as Error).message;
      this.status.textContent = `Error: ${message}`;
      if (message !== this.failing) {
        this.failing = message;
        Notification.error(`VLASS jobs: ${message}`, { autoClose: 8000 });
      }
    }
  }

  private renderList(jobs: IJob[]): void {
    const active = jobs.filter(job => !ENDED.has(job.state)).length;
    this.status.textContent = `${jobs.length} jobs, ${active} active`;
    this.list.replaceChildren();
    for (const job of jobs) {
      const row = this.list.insertRow();
      row.dataset.jobId = job.id;
      row.className = `jp-VlassJobs-row jp-VlassJobs-${job.state}`;
      if (job.id === this.selected) {
        row.classList.add('jp-mod-selected');
      }
      cell(row, job.id);
      cell(row, job.state);
      cell(row, job.cached_from ? `${job.site} (cached on ${job.cached_from})` : job.site);
      cell(row, job.notebook || '');
      cell(row, gpusAsked(job)).className = 'jp-VlassJobs-gpus';
      cell(row, timeUsed(job)).className = 'jp-VlassJobs-time';
      cell(row, job.reason || '').className = 'jp-VlassJobs-why';
      row.addEventListener('click', () => {
        this.selected = job.id;
        void this.refresh();
      });
    }
  }

  private async renderDetails(job: IJob, ticket: number): Promise<void> {
    const heading = document.createElement('h3');
    heading.textContent = `Job ${job.id}: ${job.state}`;
    const reason = document.createElement('p');
    reason.textContent = job.reason || '';
    const parts: HTMLElement[] = [heading, reason];
    if (!ENDED.has(job.state)) {
      const cancel = document.createElement('button');
      cancel.className = 'jp-VlassJobs-cancel';
      cancel.textContent = 'Cancel';
      cancel.addEventListener('click', () => void this.cancel(job.id));
      parts.push(cancel);
    }
    if (job.result) {
      const files = document.createElement('ul');
      files.className = 'jp-VlassJobs-files';
      for (const file of job.result.files) {
        const item = document.createElement('li');
        item.textContent = `${file.name} (${file.size.toLocaleString()} B, sha256 ${file.sha256.slice(0, 12)})`;
        files.appendChild(item);
      }
      parts.push(files);
    }
    const log = document.createElement('pre');
    log.className = 'jp-VlassJobs-log';
    try {
      log.textContent = (await requestAPI<{ log: string }>(`jobs/${encodeURIComponent(job.id)}/log?lines=40`)).log;
    } catch (error) {
      log.textContent = `(no log: ${(error as Error).message})`;
    }
    parts.push(log);
    if (ticket === this.ticket) {
      this.details.replaceChildren(...parts);
    }
  }

  async cancel(id: string): Promise<void> {
    try {
      await requestAPI<IJob>(`jobs/${encodeURIComponent(id)}`, { method: 'DELETE' });
    } catch (error) {
      this.status.textContent = `Error: ${(error as Error).message}`;
      Notification.error(`VLASS jobs: could not cancel job ${id}: ${(error as Error).message}`, { autoClose: 8000 });
    }
    await this.refresh();
  }
}
