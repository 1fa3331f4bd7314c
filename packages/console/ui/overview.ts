import type { OverviewResponse, ProcessView, QueueView } from '../src/api-types.js';
import { lineChart } from './chart.js';
import { byId, el, fillRows, replaceChildren } from './dom.js';
import { age, bytes, count, rate, seconds } from './format.js';

function tile(
  label: string,
  value: string,
  sub: string,
  tone: '' | 'bad' | 'warn' = '',
): HTMLElement {
  return el(
    'div',
    { class: `tile ${tone}`, role: 'group', 'aria-label': label },
    el('div', { class: 'label' }, label),
    el('div', { class: 'value' }, value),
    el('div', { class: 'sub' }, sub),
  );
}

const sum = (queues: readonly QueueView[], role: QueueView['role']) =>
  queues.filter((queue) => queue.role === role).reduce((total, queue) => total + queue.messages, 0);

export function renderOverview(data: OverviewResponse): void {
  const { queues, now1m: now, series } = data;
  const tasks = queues.find((queue) => queue.role === 'tasks');
  const parked = sum(queues, 'dlq');
  const workers = data.workers;
  replaceChildren(
    byId('tiles'),
    tile(
      'Waiting',
      count(tasks?.messages),
      tasks?.changeLastMinute === undefined
        ? 'tasks ready'
        : `tasks ready; ${signed(tasks.changeLastMinute)} in the last minute`,
    ),
    tile('In retry', count(sum(queues, 'retry')), 'waiting out a delay'),
    tile('Parked', count(parked), 'in the dead-letter queue', parked > 0 ? 'bad' : ''),
    tile(
      'Held deletes',
      data.held.available ? count(data.held.messages) : '–',
      data.held.available ? 'awaiting a decision' : 'no held queue yet',
      (data.held.messages ?? 0) > 0 ? 'warn' : '',
    ),
    tile(
      'Workers',
      count(workers.reporting),
      `reporting; ${count(workers.consumers)} consuming`,
      workers.consumers === 0 ? 'bad' : '',
    ),
    tile('Copied', `${rate(now.copiedPerSecond)}/s`, `${bytes(now.bytesPerSecond)}/s, last minute`),
    tile(
      'Lag p99',
      seconds(now.lag.p99),
      `p50 ${seconds(now.lag.p50)}, ${count(now.lag.count)} objects, last minute`,
      (now.lag.p99 ?? 0) > 60 ? 'warn' : '',
    ),
    tile('Webhooks', `${rate(now.webhooksPerSecond)}/s`, `${rate(now.recordsPerSecond)} records/s`),
  );
  lineChart(byId('chart-throughput'), {
    stepMs: series.stepMs,
    format: rate,
    series: [
      { name: 'written to the backup', values: series.copied, className: 's1' },
      { name: 'records in', values: series.records, className: 's4' },
      { name: 'failed attempts', values: series.failed, className: 's2' },
    ],
  });
  lineChart(byId('chart-lag'), {
    stepMs: series.stepMs,
    format: seconds,
    series: [
      { name: 'p50', values: series.lagP50, className: 's1' },
      { name: 'p99', values: series.lagP99, className: 's3' },
    ],
  });
  lineChart(byId('chart-depth'), {
    stepMs: series.stepMs,
    format: count,
    series: [
      { name: 'tasks', values: series.depth.tasks, className: 's1' },
      { name: 'retry', values: series.depth.retry, className: 's3' },
      { name: 'dead letters', values: series.depth.dlq, className: 's2' },
    ],
  });
  fillRows(
    byId<HTMLTableElement>('failures').tBodies[0] as HTMLTableSectionElement,
    data.failures.map((failure) =>
      el(
        'tr',
        {},
        el('td', {}, el('code', {}, failure.code)),
        el('td', { class: 'num' }, count(failure.retries)),
        el('td', { class: 'num' }, count(failure.deadLetters)),
      ),
    ),
    3,
    'No failures.',
  );
  fillRows(
    byId<HTMLTableElement>('queues').tBodies[0] as HTMLTableSectionElement,
    queues.map((queue) =>
      el(
        'tr',
        {},
        el('td', {}, el('code', {}, queue.queue)),
        el('td', { class: 'num' }, count(queue.messages)),
        el('td', { class: 'num' }, count(queue.consumers)),
        el(
          'td',
          { class: 'num' },
          queue.changeLastMinute === undefined ? '–' : signed(queue.changeLastMinute),
        ),
      ),
    ),
    4,
    'No queue figures yet.',
  );
  fillRows(
    byId<HTMLTableElement>('processes').tBodies[0] as HTMLTableSectionElement,
    data.processes.map((process) => processRow(process, data.now)),
    9,
    'No process has reported yet (they report every TELEMETRY_INTERVAL_MS).',
  );
}

function processRow(process: ProcessView, now: number): HTMLTableRowElement {
  const state =
    process.state === 'live'
      ? 'live'
      : process.state === 'late'
        ? `late: silent ${age(now - process.lastSeenAt)}`
        : 'stopped';
  return el(
    'tr',
    {},
    el('td', {}, process.role),
    el('td', {}, process.host),
    el('td', { class: 'num' }, String(process.pid)),
    el('td', { class: 'num' }, age(now - process.startedAt)),
    el('td', { class: 'num' }, process.role === 'worker' ? count(process.inFlight) : '–'),
    el('td', { class: 'num' }, rate(process.perSecond)),
    el(
      'td',
      { class: 'num' },
      process.cpuPercent === undefined ? '–' : `${process.cpuPercent.toFixed(0)} %`,
    ),
    el('td', { class: 'num' }, bytes(process.rssBytes)),
    el('td', { class: `state-${process.state}` }, state),
  );
}

function signed(value: number): string {
  const rounded = Math.round(value);
  return rounded > 0 ? `+${count(rounded)}` : count(rounded);
}
