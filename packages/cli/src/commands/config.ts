import { Command } from 'commander';
import {
  CONFIG_VARIABLES,
  REDACTED,
  redactConfig,
  redactUrl,
  type VariableName,
  type VariableSpec,
} from '@s3relay/core';
import { configFromFlags } from '../config-from-flags.js';
import type { Output } from '../output.js';

const GROUP_TITLES: Readonly<Record<VariableSpec['group'], string>> = {
  broker: 'broker',
  ingress: 'ingress',
  source: 'source S3',
  backup: 'backup S3',
  worker: 'worker',
  console: 'console',
  all: 'all processes',
};

/** The README's configuration table, generated from the schema so the two cannot drift. */
export function configTableMarkdown(): string {
  const escape = (text: string) => text.replace(/\|/g, '\\|');
  const lines = ['| variable | used by | default | description |', '|---|---|---|---|'];
  for (const [name, spec] of Object.entries(CONFIG_VARIABLES)) {
    const fallback =
      spec.default === undefined || spec.default === '' ? '' : `\`${escape(spec.default)}\``;
    const secret = spec.secret === true ? ' **Secret.**' : '';
    lines.push(
      `| \`${name}\` | ${GROUP_TITLES[spec.group]} | ${fallback} | ${escape(spec.description)}.${secret} |`,
    );
  }
  return lines.join('\n');
}

/**
 * The settings as the operator wrote them: every variable by its name, grouped by the part that
 * uses it, with its value (secrets redacted) or its default. The names are what one sets, and
 * what a configuration error names; the JSON output is the compiled configuration instead.
 */
export function configVariablesText(env: NodeJS.ProcessEnv): string {
  const token = env.WEBHOOK_TOKEN;
  const shown = (name: VariableName, spec: VariableSpec, value: string): string => {
    if (name === 'AMQP_URL') {
      return value
        .split(',')
        .map((url) => redactUrl(url.trim()))
        .join(',');
    }
    if (name === 'PUBLIC_URLS') {
      return value
        .split(',')
        .map((url) => redactUrl(url.trim(), [token]))
        .join(',');
    }
    return spec.secret === true ? REDACTED : value;
  };
  const width = Math.max(...Object.keys(CONFIG_VARIABLES).map((name) => name.length));
  const groups = new Map<VariableSpec['group'], string[]>();
  for (const [name, spec] of Object.entries(CONFIG_VARIABLES) as [VariableName, VariableSpec][]) {
    const raw = env[name];
    const value =
      raw !== undefined && raw !== ''
        ? shown(name, spec, raw)
        : spec.default === undefined || spec.default === ''
          ? '(not set)'
          : `${shown(name, spec, spec.default)}   (default)`;
    const lines = groups.get(spec.group) ?? [];
    lines.push(`  ${name.padEnd(width)}  ${value}`);
    groups.set(spec.group, lines);
  }
  return (Object.keys(GROUP_TITLES) as VariableSpec['group'][])
    .map((group) => [`${GROUP_TITLES[group]}:`, ...(groups.get(group) ?? [])].join('\n'))
    .join('\n\n');
}

/** `s3relay config`: the effective configuration (secrets redacted), or the variables table. */
export function configCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  return new Command('config')
    .description(
      'validate the configuration and show every variable with its value or default (secrets ' +
        'redacted); --json: the compiled configuration',
    )
    .option('--table', 'print the table of every variable (Markdown), as in the README')
    .action((flags: { table?: boolean }) => {
      const out = output();
      if (flags.table === true) {
        out.stdout.write(`${configTableMarkdown()}\n`);
        return;
      }
      const config = redactConfig(configFromFlags(env, {}));
      out.result(config);
      out.line(configVariablesText(env));
    });
}
