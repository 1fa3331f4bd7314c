import { Command, CommanderError } from 'commander';
import { configCommand } from './commands/config.js';
import { consoleCommand } from './commands/console.js';
import { devCommand } from './commands/dev.js';
import { dlqCommand } from './commands/dlq.js';
import { heldCommand } from './commands/held.js';
import { doctorCommand } from './commands/doctor.js';
import { historyCommand } from './commands/history.js';
import { janitorCommand } from './commands/janitor.js';
import { restoreCommand } from './commands/restore.js';
import { resyncCommand } from './commands/resync.js';
import { serveCommands } from './commands/serve.js';
import { signCommand } from './commands/sign.js';
import { statusCommand } from './commands/status.js';
import { verifyCommand } from './commands/verify.js';
import { CliError, ExitCode } from './exit-codes.js';
import { createOutput, printableLines, type Output } from './output.js';

export interface ProgramContext {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout?: NodeJS.WritableStream;
  readonly stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Builds the `s3relay` command tree. */
export function createProgram(context: ProgramContext): Command {
  const program = new Command('s3relay')
    .description(
      'Event-driven S3 replication: bucket webhooks → RabbitMQ → workers → backup bucket',
    )
    .option('--json', 'machine-readable output on stdout')
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 problems found (differences, failures), 2 bad usage or configuration,\n' +
        '3 broker or S3 unreachable, or refusing the credentials or a bucket. Configuration comes\n' +
        'from the environment (and a .env file); flags override it. See README.md for every variable.',
    );
  const output = (): Output =>
    createOutput({
      json: program.opts<{ json?: boolean }>().json === true,
      stdout: context.stdout,
      stderr: context.stderr,
    });
  for (const command of serveCommands(context.env)) program.addCommand(command);
  program.addCommand(statusCommand(output, context.env));
  program.addCommand(dlqCommand(output, context.env));
  program.addCommand(heldCommand(output, context.env));
  program.addCommand(resyncCommand(output, context.env));
  program.addCommand(verifyCommand(output, context.env));
  program.addCommand(janitorCommand(output, context.env));
  program.addCommand(restoreCommand(output, context.env));
  program.addCommand(historyCommand(output, context.env));
  program.addCommand(doctorCommand(output, context.env));
  program.addCommand(signCommand(output));
  program.addCommand(configCommand(output, context.env));
  program.addCommand(consoleCommand(context.env));
  program.addCommand(devCommand(output, context.env));
  return program;
}

/** Runs the program and returns the exit code (it never calls process.exit itself). */
export async function runProgram(
  argv: readonly string[],
  context: ProgramContext,
): Promise<number> {
  const program = createProgram(context);
  const stderr = context.stderr ?? process.stderr;
  program.exitOverride();
  program.configureOutput({
    writeOut: (text) => (context.stdout ?? process.stdout).write(text),
    writeErr: (text) => stderr.write(printableLines(text)),
  });
  inheritSettings(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (err instanceof CliError) {
      stderr.write(`${printableLines(`s3relay: ${err.message}`)}\n`);
      return err.exitCode;
    }
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    stderr.write(`${printableLines(`s3relay: ${detail}`)}\n`);
    return ExitCode.problemsFound;
  }
}

/**
 * Gives every subcommand its parent's exit override, output and help settings. Commands built
 * with `new Command()` and attached with `addCommand()` inherit nothing, so without this a usage
 * error in a subcommand (a missing required option, a bad `--limit`) would exit the process
 * with code 1 and write to the process's stderr instead of returning 2.
 */
function inheritSettings(parent: Command): void {
  for (const command of parent.commands) {
    command.copyInheritedSettings(parent);
    inheritSettings(command);
  }
}
