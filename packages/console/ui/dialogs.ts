import type { DlqEntryDetail } from '../src/api-types.js';
import { byId, el, replaceChildren, type Child } from './dom.js';
import { time } from './format.js';

export interface ConfirmOptions {
  readonly title: string;
  readonly body: readonly Child[];
  readonly confirmLabel: string;
  readonly danger?: boolean;
  /** A word the operator must type first (for what cannot be undone). */
  readonly typed?: string;
}

/** Opens a modal <dialog>, resolves with its return value once it closes (Esc: ''). */
function modal(dialog: HTMLDialogElement, focus: HTMLElement): Promise<string> {
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue), { once: true });
    dialog.showModal();
    // Start at the top of a long dialog even when the focused button sits at its bottom.
    focus.focus({ preventScroll: true });
    dialog.scrollTop = 0;
  });
}

/** Asks before an action; true only when confirmed (and the word typed, when asked for). */
export async function confirmAction(options: ConfirmOptions): Promise<boolean> {
  const dialog = byId<HTMLDialogElement>('confirm-dialog');
  byId('confirm-title').textContent = options.title;
  replaceChildren(byId('confirm-body'), ...options.body);
  const ok = byId<HTMLButtonElement>('confirm-ok');
  ok.textContent = options.confirmLabel;
  ok.className = options.danger === true ? 'danger' : '';
  const typedLabel = byId('confirm-typed');
  const typed = typedLabel.querySelector('input') as HTMLInputElement;
  typed.value = '';
  typedLabel.hidden = options.typed === undefined;
  ok.disabled = options.typed !== undefined;
  typed.oninput = () => {
    ok.disabled = typed.value.trim().toLowerCase() !== options.typed;
  };
  const answer = await modal(dialog, options.typed === undefined ? byId('confirm-cancel') : typed);
  return answer === 'confirm';
}

/** Shows one parked task whole; resolves with `replay`, `drop` or `close`. */
export async function showEntry(entry: DlqEntryDetail): Promise<string> {
  const dialog = byId<HTMLDialogElement>('entry-dialog');
  byId('entry-title').textContent = entry.objectKey ?? 'Parked message (not a valid task)';
  const fact = (name: string, value: Child) => [el('dt', {}, name), el('dd', {}, value)];
  replaceChildren(
    byId('entry-body'),
    el(
      'dl',
      { class: 'facts' },
      ...fact('Task id', el('code', {}, entry.id ?? '(none)')),
      ...fact('Bucket', entry.bucket ?? '–'),
      ...fact('Key', entry.objectKey === undefined ? '–' : el('code', {}, entry.objectKey)),
      ...fact('Error code', el('code', {}, entry.errorCode)),
      ...fact('Error', entry.error),
      ...fact('Attempts', entry.attempts === undefined ? 'unknown' : String(entry.attempts)),
      ...fact('First failed', time(entry.firstFailedAt)),
      ...fact('Last failed', time(entry.lastFailedAt)),
      ...(entry.invalidReason === undefined ? [] : fact('Not a task because', entry.invalidReason)),
    ),
    el('h3', {}, 'Headers'),
    el(
      'table',
      { class: 'data' },
      el(
        'tbody',
        {},
        ...Object.entries(entry.headers).map(([name, value]) =>
          el(
            'tr',
            {},
            el('th', { scope: 'row' }, el('code', {}, name)),
            el('td', {}, typeof value === 'string' ? value : JSON.stringify(value)),
          ),
        ),
      ),
    ),
    el('h3', {}, entry.task === undefined ? 'Body' : 'Task'),
    el(
      'pre',
      {},
      entry.task === undefined ? (entry.body ?? '') : JSON.stringify(entry.task, null, 2),
    ),
  );
  const selectable = entry.id !== undefined;
  byId<HTMLButtonElement>('entry-replay').disabled = !selectable;
  byId<HTMLButtonElement>('entry-drop').disabled = !selectable;
  return modal(dialog, dialog.querySelector('button') as HTMLButtonElement);
}

export function showHelp(): void {
  const dialog = byId<HTMLDialogElement>('help-dialog');
  void modal(dialog, dialog.querySelector('button') as HTMLButtonElement);
}
