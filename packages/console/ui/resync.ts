import type { ResyncResult } from '../src/api-types.js';
import { runJob } from './api.js';
import { confirmAction } from './dialogs.js';
import { byId, el, replaceChildren } from './dom.js';
import { count, plural } from './format.js';

/** How many differing keys the page lists. */
const LISTED = 200;

/** The resync view: a dry run first, then (confirmed) the real thing. */
export class ResyncPage {
  readonly #form = byId<HTMLFormElement>('resync-form');
  #busy = false;

  constructor() {
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#preview();
    });
  }

  /** Suggests buckets the console has seen (in the dead-letter queue). */
  suggest(buckets: readonly string[]): void {
    replaceChildren(
      byId('resync-buckets'),
      ...buckets.map((bucket) => el('option', { value: bucket })),
    );
  }

  async #preview(): Promise<void> {
    if (this.#busy) return;
    const bucket = (this.#form.elements.namedItem('bucket') as HTMLInputElement).value.trim();
    const prefix = (this.#form.elements.namedItem('prefix') as HTMLInputElement).value;
    if (bucket === '') return;
    await this.#run(async () => {
      replaceChildren(byId('resync-result'));
      const { job, result } = await runJob<ResyncResult>(
        '/api/resync',
        { bucket, prefix, dryRun: true },
        (progress) => this.#progress('Dry run', progress),
      );
      this.#say(`Dry run of ${bucket}${prefix === '' ? '' : `/${prefix}`} finished.`);
      this.#showResult(result, job.id);
    });
  }

  #showResult(result: ResyncResult, previewId: string | undefined): void {
    const toEnqueue = result.missing + result.different + (result.extra - result.extraLeftAlone);
    const button =
      previewId === undefined || toEnqueue === 0
        ? undefined
        : el(
            'button',
            { type: 'button', id: 'resync-run' },
            `Enqueue ${plural(toEnqueue, 'task')}`,
          );
    button?.addEventListener(
      'click',
      () => void this.#run(() => this.#enqueue(result, previewId ?? '', toEnqueue)),
    );
    replaceChildren(
      byId('resync-result'),
      el(
        'table',
        { class: 'data', id: 'resync-counts' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ...[
              'Compared',
              'Equal',
              'Missing',
              'Different',
              'Extra',
              result.dryRun ? 'Would enqueue' : 'Enqueued',
            ].map((name) => el('th', { scope: 'col', class: 'num' }, name)),
          ),
        ),
        el(
          'tbody',
          {},
          el(
            'tr',
            {},
            ...[
              result.compared,
              result.equal,
              result.missing,
              result.different,
              result.extra,
              result.dryRun ? toEnqueue : result.enqueued,
            ].map((value) => el('td', { class: 'num' }, count(value))),
          ),
        ),
      ),
      result.extraLeftAlone > 0
        ? el(
            'p',
            { class: 'notice' },
            `${plural(result.extraLeftAlone, 'extra backup object')} (in the backup, not in the source) left alone: the console never deletes them; \`s3relay resync --delete\` does, with its guards.`,
          )
        : undefined,
      toEnqueue === 0 && result.dryRun
        ? el('p', {}, 'The backup matches the source: nothing to enqueue.')
        : undefined,
      result.differences.length === 0
        ? undefined
        : el(
            'details',
            { open: result.dryRun },
            el(
              'summary',
              {},
              `Keys that differ (${count(result.differences.length)}${result.differences.length >= 1000 ? '+' : ''})`,
            ),
            el(
              'table',
              { class: 'data' },
              el(
                'tbody',
                {},
                ...result.differences
                  .slice(0, LISTED)
                  .map((d) =>
                    el('tr', {}, el('td', {}, d.status), el('td', {}, el('code', {}, d.key))),
                  ),
              ),
            ),
            result.differences.length > LISTED
              ? el('p', {}, `and ${count(result.differences.length - LISTED)} more`)
              : undefined,
          ),
      button === undefined ? undefined : el('div', { class: 'toolbar' }, button),
    );
  }

  async #enqueue(preview: ResyncResult, previewId: string, toEnqueue: number): Promise<void> {
    const confirmed = await confirmAction({
      title: `Enqueue ${plural(toEnqueue, 'task')} for ${preview.bucket}?`,
      confirmLabel: `Enqueue ${plural(toEnqueue, 'task')}`,
      body: [
        el(
          'p',
          {},
          `The resync compares ${preview.bucket}${preview.prefix === '' ? '' : `/${preview.prefix}`} with ${preview.backupBucket} again and enqueues a task for every key that differs then (the dry run found ${count(toEnqueue)}). Each task reconciles its key against the source.`,
        ),
      ],
    });
    if (!confirmed) {
      this.#say('Nothing was enqueued.');
      return;
    }
    const { result } = await runJob<ResyncResult>(
      '/api/resync',
      { bucket: preview.bucket, prefix: preview.prefix, dryRun: false, preview: previewId },
      (progress) => this.#progress('Resync', progress),
    );
    this.#say(`Resync of ${result.bucket}: ${plural(result.enqueued, 'task')} enqueued.`);
    this.#showResult(result, undefined);
  }

  async #run(work: () => Promise<void>): Promise<void> {
    this.#busy = true;
    (this.#form.querySelector('button') as HTMLButtonElement).disabled = true;
    try {
      await work();
    } catch (err) {
      this.#say(err instanceof Error ? err.message : String(err), true);
    } finally {
      this.#busy = false;
      (this.#form.querySelector('button') as HTMLButtonElement).disabled = false;
    }
  }

  #progress(label: string, progress: Readonly<Record<string, number>>): void {
    this.#say(
      `${label}: ${count(progress.compared ?? 0)} keys compared (${count(progress.missing ?? 0)} missing, ${count(progress.different ?? 0)} different, ${count(progress.extra ?? 0)} extra)…`,
    );
  }

  #say(text: string, error = false): void {
    replaceChildren(
      byId('resync-progress'),
      el('span', { class: error ? 'error-text' : '' }, text),
    );
  }
}
