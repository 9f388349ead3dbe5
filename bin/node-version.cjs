// The Node.js versions mcreplay needs, checked before anything else runs: on an older Node the CLI
// and vitest die with cryptic syntax or start-up errors instead of saying what to install.
// Plain CommonJS in old syntax on purpose: it must itself run on any Node (Debian 12's is 18.20).
//   node bin/node-version.cjs [cli|tests]   prints the problem and exits 1, or exits 0 silently
'use strict';

// cli: commander 14 needs 20; tests: vitest 4 runs on vite 7, which needs 20.19 (or 22.12+)
var NEEDS = {
  cli: { min: [20, 0], alt: null, what: 'mcreplay' },
  tests: { min: [20, 19], alt: [22, 12], what: 'the tests (vitest 4)' },
};

function atLeast(v, m) {
  return v[0] > m[0] || (v[0] === m[0] && v[1] >= m[1]);
}

/** The message for a Node.js too old for `kind` ('cli' or 'tests'), or null when this one will do. */
function nodeProblem(kind, version) {
  var need = NEEDS[kind] || NEEDS.cli;
  var text = version || process.versions.node;
  var v = text.split('.').map(Number);
  if (atLeast(v, need.min) && (need.alt === null || v[0] !== 21 && (v[0] === 20 || atLeast(v, need.alt)))) return null;
  var want = need.min.join('.') + (need.alt ? ' (or ' + need.alt.join('.') + ' and newer)' : ' or newer');
  return (
    need.what + ' needs Node.js ' + want + '; this is Node.js ' + text + ' (' + process.execPath + ').\n' +
    '  Install Node.js 20 or 22 LTS: Debian 13 and Ubuntu 24.10+ ship it (apt-get install nodejs npm);\n' +
    '  on Debian 12 (its nodejs is 18) use NodeSource\'s packages (https://github.com/nodesource/distributions)\n' +
    '  or nvm (nvm install 22), then check with: node --version'
  );
}

module.exports = { nodeProblem: nodeProblem };

if (require.main === module) {
  var problem = nodeProblem(process.argv[2] || 'cli');
  if (problem) {
    process.stderr.write(problem + '\n');
    process.exit(1);
  }
}
