import { createInterface } from 'node:readline/promises';
import { CliError, ExitCode } from './exit-codes.js';

/**
 * Asks a yes/no question on the terminal (default no). Thrown with a usage error, saying to pass
 * --yes, when there is no terminal to ask: an unattended run must say so explicitly.
 */
export async function confirm(question: string, refusal: string): Promise<boolean> {
  if (process.stdin.isTTY !== true) {
    throw new CliError(ExitCode.usage, `${refusal} without a terminal to ask; pass --yes`);
  }
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}
