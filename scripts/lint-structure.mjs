#!/usr/bin/env node
// lint-structure: the checks of the code's shape that anyone can run (`npm run lint:structure`).
// Fails (exit 1) on: an import circle between files of src/; a folder importing one it may not
// (the table below is the README's "Design notes" layout: layers only look down); a source file
// over MAX_FILE_LINES lines without a reason written at its top (a comment line that starts with
// "structure:" in its first 15 lines); a function over MAX_FUNCTION_LINES lines (split it into named
// pieces: there is no reason to write for a long function). Also fails on code that tells errors apart by their
// message text (a regex test, includes/startsWith/match... or comparison on `.message`): errors
// carry a stable `code` (src/errors.ts) for that.
// Imports are read with the TypeScript compiler's own parser, type-only imports included: a type
// circle is still a circle for the reader of the code.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const MAX_FILE_LINES = 500;
const MAX_FUNCTION_LINES = 150;

// --root DIR lints DIR/src instead (the lint's own test points it at a small tree it writes)
const rootArg = process.argv.indexOf('--root');
const root = rootArg > 0 ? resolve(process.argv[rootArg + 1]) : resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

// What each folder of src/ may import ('.' is src/'s own files: errors.ts, version.ts, cli.ts).
// Keep this table and the README's design notes saying the same thing.
const ALLOWED = {
  '.': ['commands'],
  capture: [],
  protocol: [],
  workload: ['capture', 'protocol'],
  metrics: ['protocol'],
  topology: ['protocol', 'metrics'],
  replay: ['capture', 'protocol', 'workload', 'topology', 'metrics'],
  migrate: ['capture', 'protocol', 'workload', 'topology', 'metrics', 'replay'],
  report: ['metrics', 'topology'],
  commands: ['capture', 'protocol', 'workload', 'topology', 'metrics', 'replay', 'migrate', 'report'],
};
// src/errors.ts and src/version.ts are below every folder: anyone may import them.
const ROOT_LEAVES = new Set(['errors.ts', 'version.ts']);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Folder of a file under src/ ('.' for src/ itself). */
function folderOf(file) {
  const rel = relative(src, file);
  const i = rel.indexOf('/');
  return i < 0 ? '.' : rel.slice(0, i);
}

/** Relative module specifiers of a file's imports and re-exports, with their lines. */
function importsOf(file, sf) {
  const out = [];
  const add = (spec, node) => {
    if (!spec.startsWith('.')) return;
    const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
    out.push({ target, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 });
  };
  for (const st of sf.statements) {
    if ((ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier)) {
      add(st.moduleSpecifier.text, st);
    }
  }
  // dynamic import('...') anywhere in the file
  const visit = (n) => {
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) {
      add(n.arguments[0].text, n);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** Function-like nodes longer than the limit: [name, startLine, lines]. */
function longFunctions(sf) {
  const out = [];
  const visit = (n) => {
    if (ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isArrowFunction(n) || ts.isFunctionExpression(n) || ts.isConstructorDeclaration(n)) {
      const a = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
      const b = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
      if (b - a + 1 > MAX_FUNCTION_LINES) {
        let name = n.name && ts.isIdentifier(n.name) ? n.name.text : '';
        if (!name && ts.isVariableDeclaration(n.parent) && ts.isIdentifier(n.parent.name)) name = n.parent.name.text;
        out.push([name || '(anonymous)', a + 1, b - a + 1]);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/**
 * Places that classify by message text: `/re/.test(x.message)`, `x.message.includes(...)` (and
 * startsWith, endsWith, match, matchAll, search, indexOf), `x.message === '...'`: [line, text].
 */
function messageTests(sf) {
  const out = [];
  const isMessage = (n) => n && ts.isPropertyAccessExpression(n) && n.name.text === 'message';
  const TESTS = new Set(['includes', 'startsWith', 'endsWith', 'match', 'matchAll', 'search', 'indexOf', 'test']);
  const visit = (n) => {
    let hit = false;
    if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && TESTS.has(n.expression.name.text)) {
      const method = n.expression.name.text;
      // x.message.includes(...) or /re/.test(x.message) / re.exec-like tests
      if (method !== 'test' && isMessage(n.expression.expression)) hit = true;
      if (method === 'test' && n.arguments.some((a) => isMessage(a))) hit = true;
    }
    if (ts.isBinaryExpression(n) && [ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken, ts.SyntaxKind.EqualsEqualsToken].includes(n.operatorToken.kind)) {
      if ((isMessage(n.left) && ts.isStringLiteralLike(n.right)) || (isMessage(n.right) && ts.isStringLiteralLike(n.left))) hit = true;
    }
    if (hit) out.push([sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1, n.getText(sf).slice(0, 80)]);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

const files = walk(src).sort();
const problems = [];
const graph = new Map();

for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const rel = relative(root, file);
  const lines = text.split('\n').length;
  if (lines > MAX_FILE_LINES) {
    const head = text.split('\n').slice(0, 15);
    if (!head.some((l) => /^\s*(\/\/|\*|\/\*)\s*structure:/.test(l))) {
      problems.push(`${rel}: ${lines} lines (limit ${MAX_FILE_LINES}); split it, or say why at its top in a comment starting "structure:"`);
    }
  }
  for (const [name, at, n] of longFunctions(sf)) {
    problems.push(`${rel}:${at}: function ${name} is ${n} lines (limit ${MAX_FUNCTION_LINES}); split it into named pieces`);
  }
  for (const [at, what] of messageTests(sf)) {
    problems.push(`${rel}:${at}: classifies by message text (${what}); give the error a code in src/errors.ts and test that (hasCode)`);
  }
  const from = folderOf(file);
  const edges = [];
  for (const { target, line } of importsOf(file, sf)) {
    if (!target.startsWith(src + '/')) continue;
    edges.push(target);
    const to = folderOf(target);
    if (to === from) continue;
    if (to === '.' && ROOT_LEAVES.has(relative(src, target))) continue;
    const allowed = ALLOWED[from];
    if (!allowed) {
      problems.push(`${rel}: folder src/${from}/ is not in the layer table of scripts/lint-structure.mjs (add it, and a paragraph in the README's design notes)`);
      break;
    }
    if (!allowed.includes(to)) {
      problems.push(`${rel}:${line}: src/${from}/ may not import src/${to}/ (allowed: ${allowed.join(', ') || 'nothing'}): layers only look down`);
    }
  }
  graph.set(file, edges);
}

// Import circles: strongly connected components of more than one file (Tarjan), and self-imports.
let index = 0;
const idx = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
function strong(v) {
  idx.set(v, index);
  low.set(v, index);
  index++;
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!graph.has(w)) continue;
    if (!idx.has(w)) {
      strong(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const comp = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      comp.push(w);
    } while (w !== v);
    if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(comp);
  }
}
for (const f of files) if (!idx.has(f)) strong(f);
for (const c of cycles) problems.push(`import circle: ${c.map((f) => relative(root, f)).sort().join(' <-> ')}`);

for (const p of problems) console.log(`error: ${p}`);
const failed = problems.length > 0;
console.log(`lint:structure: ${files.length} files, ${problems.length} errors${failed ? '' : ' (ok)'}`);
process.exit(failed ? 1 : 0);
