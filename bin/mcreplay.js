#!/usr/bin/env node
import { createRequire } from 'node:module';

// before loading anything that an older Node cannot parse
const { nodeProblem } = createRequire(import.meta.url)('./node-version.cjs');
const problem = nodeProblem('cli');
if (problem) {
  console.error(`mcreplay: ${problem}`);
  process.exit(2);
}
import('../dist/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli.js')) {
    console.error('mcreplay: not built yet. Run: npm ci && npm run build');
    process.exit(2);
  }
  throw err;
});
