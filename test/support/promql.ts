import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const MONITORING_DIR = fileURLToPath(new URL('../../deploy/monitoring/', import.meta.url));

/** Every PromQL expression of the Grafana dashboard and of the alert rules, with where it is. */
export function monitoringExpressions(): { where: string; expr: string }[] {
  const dashboard = JSON.parse(
    readFileSync(`${MONITORING_DIR}grafana/s3relay-dashboard.json`, 'utf8'),
  ) as { panels: { title: string; targets?: { expr: string }[] }[] };
  const rules = parse(readFileSync(`${MONITORING_DIR}alerts.yml`, 'utf8')) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  return [
    ...dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).map((target) => ({
        where: `panel "${panel.title}"`,
        expr: target.expr,
      })),
    ),
    ...rules.groups.flatMap((group) =>
      group.rules.map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr })),
    ),
  ];
}

/** The dashboard's variables filled in as a deployment would: its prefix and job names. */
export function withVariables(expr: string, prefix: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$prefix', prefix)
    .replaceAll('$worker_job', 's3relay-worker')
    .replaceAll('$ingress_job', 's3relay-ingress');
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

/**
 * The vector selectors of an expression (`name{matchers}`), without their ranges: what must
 * select at least one series for the expression to show anything. Function names, keywords,
 * grouping labels and numbers are not selectors.
 */
export function vectorSelectors(expr: string): string[] {
  const text = expr
    // Grouping clauses name labels, not metrics.
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  const selectors: string[] = [];
  const pattern = /([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{(?:[^}"]|"(?:[^"\\]|\\.)*")*\})?/g;
  for (const match of text.matchAll(pattern)) {
    const name = match[1] ?? '';
    const after = text.slice((match.index ?? 0) + match[0].length);
    const before = text.slice(0, match.index ?? 0);
    if (KEYWORDS.has(name.toLowerCase()) || /^\s*\(/.test(after)) continue;
    // Inside a matcher list or a string: not a metric name.
    if ((before.match(/\{/g) ?? []).length > (before.match(/\}/g) ?? []).length) continue;
    if ((before.match(/"/g) ?? []).length % 2 === 1) continue;
    if (/[\d.]$/.test(before)) continue;
    selectors.push(`${name}${match[2] ?? ''}`);
  }
  return selectors;
}
