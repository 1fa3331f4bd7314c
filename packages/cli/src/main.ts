#!/usr/bin/env node
import dotenv from 'dotenv';
import { exitWithParent } from './exit-with-parent.js';
import { runProgram } from './program.js';

// A .env file is for local runs; the real environment always wins over it.
dotenv.config({ quiet: true });
// The SDK is pinned by the lockfile to releases that support Node 20 (see README); its
// per-process reminder about future releases would otherwise open every log.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// `s3relay dlq list | head` closes our stdout early; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

exitWithParent();

const code = await runProgram(process.argv.slice(2), { env: process.env });
process.exitCode = code;
