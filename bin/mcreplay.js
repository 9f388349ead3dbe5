#!/usr/bin/env node
import('../dist/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli.js')) {
    console.error('mcreplay: not built yet. Run: npm ci && npm run build');
    process.exit(2);
  }
  throw err;
});
