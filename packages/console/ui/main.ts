import type { OverviewResponse } from '../src/api-types.js';
import { getJson } from './api.js';
import { showHelp } from './dialogs.js';
import { byId, isTyping } from './dom.js';
import { DlqPage } from './dlq.js';
import { age, count, time } from './format.js';
import { renderHeld } from './held.js';
import { renderOverview } from './overview.js';
import { ResyncPage } from './resync.js';

const VIEWS = ['overview', 'dlq', 'held', 'resync'] as const;
type View = (typeof VIEWS)[number];

/** How often the overview (and the header's status line) refreshes. */
const REFRESH_MS = 2000;

const dlq = new DlqPage();
const resync = new ResyncPage();
let current: View = 'overview';

function viewFromHash(): View {
  const name = window.location.hash.slice(1);
  return (VIEWS as readonly string[]).includes(name) ? (name as View) : 'overview';
}

function show(view: View): void {
  current = view;
  for (const name of VIEWS) byId(`view-${name}`).hidden = name !== view;
  for (const tab of document.querySelectorAll<HTMLAnchorElement>('.tabs a')) {
    if (tab.dataset.view === view) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
  document.title = `s3relay console: ${view === 'dlq' ? 'dead letters' : view === 'held' ? 'held deletes' : view}`;
  if (view === 'dlq') void dlq.show();
}

async function refresh(): Promise<void> {
  const status = byId('status');
  try {
    const data = await getJson<OverviewResponse>('/api/overview');
    byId('prefix').textContent = data.prefix;
    renderOverview(data);
    renderHeld(data.held);
    const reporting = data.processes.filter((process) => process.state === 'live').length;
    status.textContent = data.broker.connected
      ? `Updated ${time(data.now)} · ${count(reporting)} processes reporting${
          data.telemetryIntervalMs === undefined ? '' : ` every ${age(data.telemetryIntervalMs)}`
        }`
      : `The broker is not connected (${data.broker.url}); figures may be stale`;
    status.classList.toggle('bad', !data.broker.connected);
  } catch (err) {
    status.textContent = `The console does not answer: ${err instanceof Error ? err.message : String(err)}`;
    status.classList.add('bad');
  }
}

document.addEventListener('keydown', (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (document.querySelector('dialog[open]') !== null || isTyping(event)) return;
  const index = ['1', '2', '3', '4'].indexOf(event.key);
  if (index >= 0) {
    window.location.hash = VIEWS[index] ?? 'overview';
    event.preventDefault();
    return;
  }
  if (event.key === '?') {
    showHelp();
    event.preventDefault();
    return;
  }
  if (current === 'dlq' && dlq.onKey(event)) event.preventDefault();
});

window.addEventListener('hashchange', () => show(viewFromHash()));
byId('help-button').addEventListener('click', () => showHelp());
byId('resync-form').addEventListener('focusin', () => resync.suggest(dlq.buckets()));

show(viewFromHash());
void refresh();
setInterval(() => void refresh(), REFRESH_MS);
