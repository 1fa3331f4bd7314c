import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// No test orders events by sleeping (#12): a test waits for the event itself (eventually, a
// promise, a proxy's hold, a fake clock). A sleep stays only where time itself is what the
// test needs, each named here with the reason, which its site repeats in a comment.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** This file, whose examples below are sleeps in strings. */
const SELF = path.relative(ROOT, fileURLToPath(import.meta.url));

/** Sleeps that stay, per test file: how many, and why none of them orders events. */
const ALLOWED: Record<string, { readonly count: number; readonly why: string }> = {
  'test/integration/testbed.test.ts': {
    count: 1,
    why: "asserts an absence: a black-holed connection's request answers nothing for a second",
  },
  'test/integration/ingress-connection-loss.test.ts': {
    count: 2,
    why: "paces load: a sender's pause before retrying, and the period of the connection cutter",
  },
  'test/integration/ingress-connection-churn.test.ts': {
    count: 1,
    why: 'paces open-loop load: webhooks go out at a fixed rate',
  },
  'test/integration/worker-convergence.test.ts': {
    count: 1,
    why: 'random lateness of some events is the input; convergence must hold in any order',
  },
  'test/integration/emulator.test.ts': {
    count: 1,
    why: "polls, in a child process's script, until the emulator has retried",
  },
  'test/e2e/ingress-exposed.test.ts': {
    count: 1,
    why: 'paces the health prober that runs beside the attack',
  },
  'test/ceph/restore.test.ts': {
    count: 2,
    why: 'source times are kept to the second: an instant needs a second of quiet around it',
  },
};

/** A timer wrapped in a promise: `new Promise((resolve) => setTimeout(resolve, n))`. */
const PROMISED_TIMER = /setTimeout\(\s*resolve\b/g;
/** `import { setTimeout as sleep } from 'node:timers/promises'`: calls of `sleep(` then count. */
const TIMERS_PROMISES = /import\s*\{([^}]*)\}\s*from\s*'node:timers\/promises'/;

/** How many sleeps `text` holds. */
function countSleeps(text: string): number {
  let count = [...text.matchAll(PROMISED_TIMER)].length;
  const imported = TIMERS_PROMISES.exec(text)?.[1] ?? '';
  const alias = /\bsetTimeout(?:\s+as\s+(\w+))?/.exec(imported);
  if (alias !== null) {
    const name = alias[1] ?? 'setTimeout';
    const body = text.replace(TIMERS_PROMISES, '');
    count += [...body.matchAll(new RegExp(`(?<![.\\w])${name}\\(`, 'g'))].length;
  }
  return count;
}

function testFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z', '--', '*.test.ts'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((file) => file !== '' && file !== SELF);
}

describe('no sleeping to order events', () => {
  it('counts both kinds of sleep, and not timers that bound a wait', () => {
    expect(countSleeps('await new Promise((resolve) => setTimeout(resolve, 200));')).toBe(1);
    expect(
      countSleeps(
        "import { setTimeout as sleep } from 'node:timers/promises';\nawait sleep(5);\nsleep(1);",
      ),
    ).toBe(2);
    expect(countSleeps("import { setTimeout } from 'node:timers/promises';\nsetTimeout(9);")).toBe(
      1,
    );
    expect(countSleeps('const timer = setTimeout(() => child.kill(), 20_000);')).toBe(0);
    expect(countSleeps('await eventually(() => expect(ready).toBe(true));')).toBe(0);
  });

  it('sleeps only where the list above allows, and as often', () => {
    const found = Object.fromEntries(
      testFiles()
        .map((file) => [file, countSleeps(readFileSync(path.join(ROOT, file), 'utf8'))] as const)
        .filter(([, count]) => count > 0),
    );
    const allowed = Object.fromEntries(
      Object.entries(ALLOWED).map(([file, { count }]) => [file, count]),
    );
    expect(found).toEqual(allowed);
  });
});
