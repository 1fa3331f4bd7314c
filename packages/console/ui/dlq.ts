import type {
  DlqActionRequest,
  DlqActionResult,
  DlqEntryDetail,
  DlqEntryView,
  DlqFilter,
  DlqListResponse,
  Facet,
} from '../src/api-types.js';
import { ApiError, getJson, runJob } from './api.js';
import { confirmAction, showEntry } from './dialogs.js';
import { byId, el, fillRows, replaceChildren } from './dom.js';
import { count, plural, time } from './format.js';

const PAGE_SIZE = 100;

/** The dead-letter view: the last scan of the DLQ, filtered, and the actions on it. */
export class DlqPage {
  #filter: DlqFilter = {};
  #offset = 0;
  #data: DlqListResponse | undefined;
  readonly #selected = new Set<string>();
  #focus = 0;
  #busy = false;
  #message: { text: string; error: boolean } | undefined;
  readonly #form = byId<HTMLFormElement>('dlq-filter');
  readonly #body = byId<HTMLTableElement>('dlq-table').tBodies[0] as HTMLTableSectionElement;

  constructor() {
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#filter = this.#readFilter();
      this.#offset = 0;
      void this.load();
    });
    this.#form.addEventListener('reset', () => {
      this.#filter = {};
      this.#offset = 0;
      // The reset clears the inputs after this handler; load once it has.
      setTimeout(() => void this.load(), 0);
    });
    byId('dlq-rescan').addEventListener('click', () => void this.rescan());
    byId('dlq-replay-selected').addEventListener('click', () => void this.actOnSelected('replay'));
    byId('dlq-drop-selected').addEventListener('click', () => void this.actOnSelected('drop'));
    byId('dlq-replay-matching').addEventListener('click', () => void this.actOnMatching('replay'));
    byId('dlq-drop-matching').addEventListener('click', () => void this.actOnMatching('drop'));
    byId('dlq-prev').addEventListener('click', () => this.#page(-1));
    byId('dlq-next').addEventListener('click', () => this.#page(1));
    byId<HTMLInputElement>('dlq-select-all').addEventListener('change', (event) => {
      const checked = (event.target as HTMLInputElement).checked;
      for (const entry of this.#data?.entries ?? []) {
        if (entry.id === undefined) continue;
        if (checked) this.#selected.add(entry.id);
        else this.#selected.delete(entry.id);
      }
      this.#render();
    });
  }

  /** Source buckets of the parked tasks, most frequent first. */
  buckets(): string[] {
    return (this.#data?.facets.buckets ?? []).map((facet) => facet.value);
  }

  /** Called when the view is shown: the first visit scans the DLQ. */
  async show(): Promise<void> {
    await this.load();
    if (this.#data?.scan.scannedAt === undefined && this.#data?.scan.running !== true) {
      await this.rescan();
    }
  }

  async load(): Promise<void> {
    const query = new URLSearchParams({ offset: String(this.#offset), limit: String(PAGE_SIZE) });
    for (const [name, value] of Object.entries(this.#filter)) {
      if (typeof value === 'string' && value !== '') query.set(name, value);
    }
    try {
      this.#data = await getJson<DlqListResponse>(`/api/dlq?${query.toString()}`);
    } catch (err) {
      this.#say(err instanceof Error ? err.message : String(err), true);
    }
    this.#render();
  }

  async rescan(): Promise<void> {
    if (this.#busy) return;
    await this.#run(async () => {
      await runJob('/api/dlq/scan', {}, (progress) =>
        this.#say(`Scanning the dead-letter queue: ${count(progress.scanned ?? 0)} read…`),
      );
      this.#message = undefined;
    });
  }

  /** Keys of the view (see the help dialog); true when the key was used. */
  onKey(event: KeyboardEvent): boolean {
    const rows = this.#data?.entries ?? [];
    switch (event.key) {
      case 'j':
      case 'ArrowDown':
        this.#moveFocus(1);
        return true;
      case 'k':
      case 'ArrowUp':
        this.#moveFocus(-1);
        return true;
      case 'x':
      case ' ': {
        const entry = rows[this.#focus];
        if (entry !== undefined) this.#toggle(entry);
        return true;
      }
      case 'Enter': {
        const entry = rows[this.#focus];
        if (entry !== undefined) void this.open(entry);
        return true;
      }
      case 'r':
        void this.actOnSelected('replay');
        return true;
      case 'd':
        void this.actOnSelected('drop');
        return true;
      case 'R':
        void this.rescan();
        return true;
      case '/':
        (this.#form.elements.namedItem('bucket') as HTMLSelectElement).focus();
        return true;
      default:
        return false;
    }
  }

  async open(entry: DlqEntryView): Promise<void> {
    let detail: DlqEntryDetail;
    try {
      detail = await getJson<DlqEntryDetail>(`/api/dlq/entries/${entry.key}`);
    } catch (err) {
      this.#say(err instanceof Error ? err.message : String(err), true);
      return;
    }
    const answer = await showEntry(detail);
    if ((answer === 'replay' || answer === 'drop') && detail.id !== undefined) {
      await this.#act(answer, { ids: [detail.id], dryRun: true });
    }
    this.#focusRow();
  }

  async actOnSelected(action: 'replay' | 'drop'): Promise<void> {
    if (this.#selected.size === 0) {
      this.#say('Select tasks first (x or the checkboxes), or act on all matching.', true);
      return;
    }
    await this.#act(action, { ids: [...this.#selected], dryRun: true });
  }

  async actOnMatching(action: 'replay' | 'drop'): Promise<void> {
    await this.#act(action, { all: true, filter: this.#filter, dryRun: true });
  }

  /** A dry run first, so the confirmation states exactly what would happen; then the action. */
  async #act(action: 'replay' | 'drop', request: DlqActionRequest): Promise<void> {
    if (this.#busy) return;
    const verb = action === 'replay' ? 'Replay' : 'Drop';
    await this.#run(async () => {
      const { result: preview } = await runJob<DlqActionResult>(
        `/api/dlq/${action}`,
        request,
        (progress) =>
          this.#say(`Checking what a ${action} would take: ${count(progress.scanned ?? 0)} read…`),
      );
      this.#message = undefined;
      this.#render();
      if (preview.matched === 0) {
        this.#say(`Nothing to ${action}: no parked task matches any more.`, true);
        return;
      }
      const confirmed = await confirmAction({
        title: `${verb} ${plural(preview.matched, 'parked task')}?`,
        confirmLabel: `${verb} ${plural(preview.matched, 'task')}`,
        danger: action === 'drop',
        typed: action === 'drop' ? 'drop' : undefined,
        body: [
          el(
            'p',
            {},
            action === 'replay'
              ? 'They go back to the tasks queue with their attempts reset; the workers reconcile each key again.'
              : 'They are deleted from the dead-letter queue for good: their events will not be replicated unless a resync finds the difference.',
          ),
          el(
            'ul',
            { class: 'sample' },
            ...preview.sample.map((entry) =>
              el(
                'li',
                {},
                el('code', {}, `${entry.bucket ?? '?'}/${entry.objectKey ?? '(invalid)'}`),
                ` — ${entry.errorCode}`,
              ),
            ),
            preview.matched > preview.sample.length
              ? el('li', {}, `and ${count(preview.matched - preview.sample.length)} more`)
              : undefined,
          ),
        ],
      });
      if (!confirmed) {
        this.#say(`Nothing was changed.`);
        return;
      }
      const { result } = await runJob<DlqActionResult>(
        `/api/dlq/${action}`,
        { ...request, dryRun: false },
        (progress) =>
          this.#say(
            progress.rescanning === undefined
              ? `${verb === 'Replay' ? 'Replaying' : 'Dropping'}: ${count(progress.scanned ?? 0)} read…`
              : `Done; reading the dead-letter queue again: ${count(progress.scanned ?? 0)} read…`,
          ),
      );
      for (const id of request.ids ?? []) this.#selected.delete(id);
      if (request.all === true) this.#selected.clear();
      this.#message = {
        text: `${action === 'replay' ? 'Replayed' : 'Dropped'} ${plural(result.matched, 'task')}.`,
        error: false,
      };
    });
  }

  /** Runs an operation with the actions disabled, then reloads; errors are shown, not thrown. */
  async #run(work: () => Promise<void>): Promise<void> {
    this.#busy = true;
    this.#render();
    try {
      await work();
    } catch (err) {
      const message =
        err instanceof ApiError && err.code === 'busy'
          ? `Another operation is running: ${err.message}`
          : err instanceof Error
            ? err.message
            : String(err);
      this.#say(message, true);
    } finally {
      this.#busy = false;
      await this.load();
    }
  }

  #say(text: string, error = false): void {
    this.#message = { text, error };
    this.#renderSummary();
  }

  #readFilter(): DlqFilter {
    const value = (name: string) =>
      (this.#form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement).value.trim();
    const iso = (name: string) => {
      const raw = value(name);
      return raw === '' ? undefined : new Date(raw).toISOString();
    };
    return {
      bucket: value('bucket') || undefined,
      errorCode: value('errorCode') || undefined,
      since: iso('since'),
      until: iso('until'),
    };
  }

  #page(direction: number): void {
    const matching = this.#data?.matching ?? 0;
    const next = this.#offset + direction * PAGE_SIZE;
    if (next < 0 || next >= Math.max(matching, 1)) return;
    this.#offset = next;
    this.#focus = 0;
    void this.load();
  }

  #moveFocus(delta: number): void {
    const rows = this.#data?.entries.length ?? 0;
    if (rows === 0) return;
    // The first key press lands on the remembered row; the next ones move.
    if (this.#body.contains(document.activeElement)) {
      this.#focus = Math.min(rows - 1, Math.max(0, this.#focus + delta));
    }
    this.#focusRow();
  }

  #focusRow(): void {
    const row = this.#body.rows[this.#focus];
    if (row === undefined || row.dataset.key === undefined) return;
    for (const other of this.#body.rows) other.tabIndex = -1;
    row.tabIndex = 0;
    row.focus();
  }

  #toggle(entry: DlqEntryView): void {
    if (entry.id === undefined) {
      this.#say('This message has no task id; act on it with the error-code filter instead.', true);
      return;
    }
    if (this.#selected.has(entry.id)) this.#selected.delete(entry.id);
    else this.#selected.add(entry.id);
    this.#render();
    this.#focusRow();
  }

  #render(): void {
    const data = this.#data;
    this.#renderFacets();
    this.#renderSummary();
    const entries = data?.entries ?? [];
    this.#focus = Math.min(this.#focus, Math.max(0, entries.length - 1));
    const hadFocus = this.#body.contains(document.activeElement);
    fillRows(
      this.#body,
      entries.map((entry, index) => this.#row(entry, index)),
      7,
      data?.scan.scannedAt === undefined ? 'Not scanned yet.' : 'No parked task matches.',
    );
    if (hadFocus) this.#focusRow();
    const selected = this.#selected.size;
    const matching = data?.matching ?? 0;
    const setButton = (id: string, label: string, enabled: boolean) => {
      const button = byId<HTMLButtonElement>(id);
      button.textContent = label;
      button.disabled = !enabled || this.#busy;
    };
    setButton('dlq-replay-selected', `Replay selected (${count(selected)})`, selected > 0);
    setButton('dlq-drop-selected', `Drop selected (${count(selected)})`, selected > 0);
    setButton('dlq-replay-matching', `Replay all matching (${count(matching)})`, matching > 0);
    setButton('dlq-drop-matching', `Drop all matching (${count(matching)})`, matching > 0);
    byId<HTMLButtonElement>('dlq-rescan').disabled = this.#busy;
    const selectAll = byId<HTMLInputElement>('dlq-select-all');
    const selectable = entries.filter((entry) => entry.id !== undefined);
    selectAll.checked =
      selectable.length > 0 && selectable.every((entry) => this.#selected.has(entry.id ?? ''));
    const pages = Math.max(1, Math.ceil(matching / PAGE_SIZE));
    byId('dlq-page').textContent = `Page ${Math.floor(this.#offset / PAGE_SIZE) + 1} of ${pages}`;
    byId<HTMLButtonElement>('dlq-prev').disabled = this.#offset === 0;
    byId<HTMLButtonElement>('dlq-next').disabled = this.#offset + PAGE_SIZE >= matching;
    const badge = byId('tab-dlq-count');
    badge.textContent =
      data === undefined || data.scan.total === 0 ? '' : count(data.depth ?? data.scan.total);
  }

  #row(entry: DlqEntryView, index: number): HTMLTableRowElement {
    const selected = entry.id !== undefined && this.#selected.has(entry.id);
    const label = `${entry.bucket ?? ''}/${entry.objectKey ?? '(invalid)'}`;
    const checkbox = el('input', {
      type: 'checkbox',
      'aria-label': `Select ${label}`,
      checked: selected,
      disabled: entry.id === undefined,
    });
    checkbox.addEventListener('click', (event) => {
      event.stopPropagation();
      this.#focus = index;
      this.#toggle(entry);
    });
    const row = el(
      'tr',
      {
        tabindex: index === this.#focus ? '0' : '-1',
        'aria-selected': selected ? 'true' : 'false',
        'data-key': String(entry.key),
      },
      el('td', { class: 'check' }, checkbox),
      el('td', {}, time(entry.lastFailedAt)),
      el('td', {}, entry.bucket ?? '–'),
      el('td', { class: 'key' }, entry.objectKey ?? `(not a task: ${entry.invalidReason ?? '?'})`),
      el('td', {}, el('code', {}, entry.errorCode)),
      el('td', { class: 'num' }, entry.attempts === undefined ? '–' : String(entry.attempts)),
      el('td', { class: 'error', title: entry.error }, entry.error),
    );
    row.addEventListener('click', () => {
      this.#focus = index;
      void this.open(entry);
    });
    return row;
  }

  #renderFacets(): void {
    const facets = this.#data?.facets;
    fillSelect(
      this.#form.elements.namedItem('bucket') as HTMLSelectElement,
      'All buckets',
      facets?.buckets ?? [],
      this.#filter.bucket,
    );
    fillSelect(
      this.#form.elements.namedItem('errorCode') as HTMLSelectElement,
      'All codes',
      facets?.errorCodes ?? [],
      this.#filter.errorCode,
    );
  }

  #renderSummary(): void {
    const data = this.#data;
    const summary = byId('dlq-summary');
    if (this.#message !== undefined) {
      replaceChildren(
        summary,
        el('span', { class: this.#message.error ? 'error-text' : '' }, this.#message.text),
      );
      return;
    }
    if (data === undefined) {
      replaceChildren(summary, 'Loading…');
      return;
    }
    const { scan } = data;
    if (scan.scannedAt === undefined) {
      replaceChildren(
        summary,
        scan.error === undefined ? 'Not scanned yet.' : `The scan failed: ${scan.error}`,
      );
      return;
    }
    const parts: (string | HTMLElement)[] = [
      `${plural(scan.total, 'parked task')} at ${time(scan.scannedAt)}`,
      scan.kept < scan.total ? ` (showing the first ${count(scan.kept)})` : '',
      `; ${count(data.matching)} match.`,
    ];
    if (data.depth !== undefined && data.depth !== scan.total) {
      parts.push(
        ' ',
        el('strong', {}, `The queue holds ${count(data.depth)} now: rescan to see them.`),
      );
    }
    replaceChildren(summary, ...parts);
  }
}

function fillSelect(
  select: HTMLSelectElement,
  all: string,
  facets: readonly Facet[],
  chosen: string | undefined,
): void {
  const options = [el('option', { value: '' }, all)];
  const values = new Set(facets.map((facet) => facet.value));
  for (const facet of facets)
    options.push(el('option', { value: facet.value }, `${facet.value} (${count(facet.count)})`));
  // A filter on something the scan no longer has stays visible and selected.
  if (chosen !== undefined && !values.has(chosen))
    options.push(el('option', { value: chosen }, `${chosen} (0)`));
  replaceChildren(select, ...options);
  select.value = chosen ?? '';
}
