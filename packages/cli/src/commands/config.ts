import { Command } from 'commander';
import { CONFIG_VARIABLES, redactConfig, type VariableSpec } from '@s3relay/core';
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

/** `s3relay config`: the effective configuration (secrets redacted), or the variables table. */
export function configCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  return new Command('config')
    .description('validate and show the effective configuration (secrets redacted)')
    .option('--table', 'print the table of every variable (Markdown), as in the README')
    .action((flags: { table?: boolean }) => {
      const out = output();
      if (flags.table === true) {
        out.stdout.write(`${configTableMarkdown()}\n`);
        return;
      }
      const config = redactConfig(configFromFlags(env, {}));
      out.result(config);
      out.line(JSON.stringify(config, null, 2));
    });
}
