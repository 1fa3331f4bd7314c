import { defineConfig } from 'vitest/config';

// The fault suite's own unit tests (the ledger's classification), run by run.ts before the
// scenarios: a ledger that cannot fail would make every scenario pass.
export default defineConfig({
  test: { root: import.meta.dirname, include: ['*.test.ts'], globals: false },
});
