export { createProgram, runProgram, type ProgramContext } from './program.js';
export { CliError, ExitCode } from './exit-codes.js';
export { configTableMarkdown } from './commands/config.js';
export {
  startConsoleService,
  type ConsoleService,
  type ConsoleServiceOptions,
} from './console-service.js';
