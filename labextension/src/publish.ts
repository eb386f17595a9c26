import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, ICommandPalette, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';

export const PUBLISH_COMMAND = 'jupyter-vlass:publish';

interface IPin { id: string; version: string; sha256?: string }
interface IJob {
  id: string; state: string; site: string; notebook: string | null; cached_from: string | null;
  parameters: Record<string, unknown>; inputs: IPin[]; ended_at: string | null; site_job_id: string | null
}
interface IPublished {
  capsule_id: string; new: boolean; key_id: string; path: string; title: string; parent: string | null;
  status: 'completed' | 'failed'; error?: string; citation?: string
}
interface IDecision {
  dataset_id: string; version: string; score: number; threshold: number; passed: boolean; allowed: boolean;
  explanation: string; override: { by: string; reason: string } | null
}
interface IMark { mark: 'Updated' | 'Retracted'; explanation: string; by: string; at: string; because: string | null }
interface ICheck {
  capsule_id: string | null; status: 'verified' | 'modified' | 'unknown'; message: string; marks?: IMark[];
}

/** The dialog's body: pick an ended job (a failed one is recorded as a failed run); what the publish gate
 * says of it (the consensus score of each input against the threshold) and its manifest are shown before
 * anything is published. */
class PublishBody extends Widget {
  private select = document.createElement('select');
  private preview = document.createElement('pre');
  private gate = document.createElement('div');
  private asked = 0;

  constructor(private jobs: IJob[]) {
    super();
    this.addClass('jp-VlassPublish');
    for (const job of jobs) {
      const option = document.createElement('option');
      option.value = job.id;
      const failed = job.state === 'failed' ? ' FAILED: recorded as a failed run' : '';
      option.textContent = `${job.notebook} on ${job.site} (${job.id}, ${job.ended_at ?? ''})${failed}`;
      this.select.append(option);
    }
    this.select.className = 'jp-VlassPublish-job';
    this.preview.className = 'jp-VlassPublish-manifest';
    this.gate.className = 'jp-VlassPublish-gate';
    this.select.addEventListener('change', () => this.showManifest());
    this.node.append(this.select, this.gate, this.preview);
    this.showManifest();
  }

  /** The gate's decisions for the chosen job, as the server would take them on Publish. */
  private async showGate(job: IJob): Promise<void> {
    const asked = ++this.asked;
    this.gate.dataset.state = 'checking';
    this.gate.textContent = 'Publish gate: checking the consensus…';
    let text: string[];
    let state: string;
    try {
      const { decisions } = await requestAPI<{ decisions: IDecision[] }>(
        `analyses/gate?job_id=${encodeURIComponent(job.id)}`);
      state = decisions.every(d => d.allowed) ? 'passes' : 'refused';
      text = decisions.length
        ? decisions.map(d => `Consensus score ${d.score.toFixed(2)} of ${d.dataset_id}@${d.version} ` +
            `(threshold ${d.threshold.toFixed(2)}): ` + (d.passed ? 'the gate passes'
            : d.override ? `overridden by ${d.override.by}: ${d.override.reason}` : `refused: ${d.explanation}`))
        : ['Publish gate: not a detection analysis, nothing to gate.'];
    } catch (error) {
      state = 'error';
      text = [`Publish gate: ${(error as Error).message}`];
    }
    if (asked === this.asked) {
      this.gate.dataset.state = state;
      this.gate.replaceChildren(...text.map(line => Object.assign(document.createElement('p'), { textContent: line })));
    }
  }

  private showManifest(): void {
    const job = this.jobs.find(j => j.id === this.select.value);
    this.preview.textContent = job
      ? JSON.stringify({ notebook: job.notebook, site: job.site, parameters: job.parameters, inputs: job.inputs }, null, 1)
      : '';
    if (job && job.state === 'done') {
      void this.showGate(job);
    } else {
      this.gate.dataset.state = 'none';
      this.gate.textContent = job ? 'A failed run: recorded as such, not gated.' : '';
    }
  }

  getValue(): string {
    return this.select.value;
  }
}

async function publish(): Promise<void> {
  const { jobs } = await requestAPI<{ jobs: IJob[] }>('jobs');
  // A failed run that got as far as its notebook is worth a record too; a refusal before it ran is not.
  const done = jobs.filter(j => (j.state === 'done' && !j.cached_from) || (j.state === 'failed' && j.site_job_id));
  if (!done.length) {
    await showErrorMessage('Publish analysis', 'No job of yours has run to an end to publish yet.');
    return;
  }
  const choice = await showDialog({
    title: 'Publish analysis as a signed capsule',
    body: new PublishBody(done),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Publish' })]
  });
  if (!choice.button.accept || !choice.value) {
    return;
  }
  const published = await requestAPI<IPublished>('analyses', {
    method: 'POST', body: JSON.stringify({ job_id: choice.value })
  });
  const result = document.createElement('div');
  result.className = 'jp-VlassPublish-result';
  result.dataset.status = published.status;
  const what = published.status === 'failed'
    ? `Recorded as a failed run (${published.error ?? 'failed'})`
    : published.new ? 'Published' : 'Already published';
  result.textContent = `${what}: capsule ${published.capsule_id}, ` +
    `signed by key ${published.key_id.slice(0, 16)}; ${published.path}`;
  const body = document.createElement('div');
  body.append(result);
  if (published.citation && published.status !== 'failed') {
    const citation = document.createElement('p');
    citation.className = 'jp-VlassPublish-citation';
    citation.textContent = `Cite as: ${published.citation}`;
    body.append(citation);
  }
  await showDialog({ title: published.title, body: new Widget({ node: body }), buttons: [Dialog.okButton()] });
}

/** A banner over a capsule's notebook: verified, or modified since publication (and what). */
class CapsuleBanner extends Widget {
  constructor(private panel: NotebookPanel) {
    super();
    this.addClass('jp-VlassCapsuleBanner');
    panel.context.saveState.connect((_, state) => {
      if (state === 'completed') {
        void this.refresh();
      }
    });
  }

  async refresh(): Promise<void> {
    try {
      const check = await requestAPI<ICheck>(
        `notebook-check?path=${encodeURIComponent(this.panel.context.path)}`);
      const marks = check.marks ?? [];
      const last = marks[marks.length - 1];
      this.node.dataset.status = last ? last.mark.toLowerCase() : check.status;
      const said = check.status === 'verified'
        ? `Published capsule ${check.capsule_id?.slice(0, 16)}: verified. ${check.message}`
        : check.status === 'modified'
          ? `Published capsule ${check.capsule_id?.slice(0, 16)}: modified since publication. ${check.message}`
          : `A published analysis's notebook: ${check.message}`;
      // A newer model or dataset that contradicts the result is said first, never a footnote.
      this.node.textContent = last
        ? `${last.mark} by ${last.by} on ${last.at.slice(0, 10)}: ${last.explanation}` +
          (last.because ? ` (derived from ${last.because}, which was marked)` : '') + ` — ${said}`
        : said;
    } catch (error) {
      this.node.dataset.status = 'error';
      this.node.textContent = `Could not check this capsule: ${(error as Error).message}`;
    }
  }
}

function watchNotebooks(tracker: INotebookTracker): void {
  tracker.widgetAdded.connect((_, panel) => {
    void panel.context.ready.then(() => {
      const metadata = panel.model?.getMetadata('jupyter_vlass') as { 'ro-crate'?: unknown } | undefined;
      if (!metadata?.['ro-crate']) {
        return;
      }
      const banner = new CapsuleBanner(panel);
      panel.contentHeader.addWidget(banner);
      void banner.refresh();
    });
  });
}

export function activatePublishing(app: JupyterFrontEnd, palette: ICommandPalette | null,
  tracker: INotebookTracker | null): void {
  app.commands.addCommand(PUBLISH_COMMAND, {
    label: 'VLASS: Publish analysis (signed capsule)',
    execute: async () => {
      try {
        await publish();
      } catch (error) {
        await showErrorMessage('Publish analysis', (error as Error).message);
      }
    }
  });
  palette?.addItem({ command: PUBLISH_COMMAND, category: 'VLASS' });
  if (tracker) {
    watchNotebooks(tracker);
  }
}
