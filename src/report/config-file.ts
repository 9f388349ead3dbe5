// `--config mcreplay.json`: the options of a verb in a file, plus `thresholds`. Keys are the verb's
// option names (camelCase like `maxRegression` or the long flag like `max-regression`); options given
// on the command line (or from the environment) override the file; an unknown key is a usage error.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command, type Option } from 'commander';
import { McError } from '../errors.js';
import { suggest } from './check-grammar.js';

/** A loaded config file. */
export interface ConfigFile {
  path: string;
  /** Every key but `thresholds` and `$schema`, as written. */
  options: Record<string, unknown>;
  /** The `thresholds` array (empty when absent). */
  thresholds: string[];
}

/** Keys that are not options. */
const META_KEYS = new Set(['$schema', 'thresholds']);

/** Reads and shape-checks a config file (a JSON object; `thresholds` an array of strings); exit 2 on problems. */
export function loadConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new McError(`cannot read the config file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, 'MCR_ERR_BAD_CONFIG');
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new McError(`the config file ${path} is not valid JSON: ${(err as Error).message}`, 'MCR_ERR_BAD_CONFIG');
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new McError(`the config file ${path} must hold a JSON object of options`, 'MCR_ERR_BAD_CONFIG');
  const obj = data as Record<string, unknown>;
  const thresholds = obj.thresholds ?? [];
  if (!Array.isArray(thresholds) || thresholds.some((t) => typeof t !== 'string')) {
    throw new McError(`config file ${path}: 'thresholds' must be an array of strings, like ["latency.p99 < 2ms"]`, 'MCR_ERR_BAD_CONFIG');
  }
  const options: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!META_KEYS.has(k)) options[k] = v;
  return { path, options, thresholds: thresholds as string[] };
}

/** Keys that set an option as written: its attribute name (camelCase) and its long name without `--`. */
function optionKeys(o: Option): string[] {
  const keys = [o.attributeName()];
  if (o.long) keys.push(o.long.replace(/^--(no-)?/, ''));
  return keys;
}

/** Keys that set a negated flag (`--no-png`) by its own name, so `"no-png": true` means `png: false`. */
function negatedKeys(o: Option): string[] {
  if (!o.negate || !o.long) return [];
  const long = o.long.replace(/^--/, '');
  return [long, long.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())];
}

/** The option a config key names, if any, and whether the key is the negated form of a flag. */
function findOption(cmd: Command, key: string): { o: Option; negated: boolean } | undefined {
  for (const o of cmd.options) {
    if (optionKeys(o).includes(key)) return { o, negated: false };
    if (negatedKeys(o).includes(key)) return { o, negated: true };
  }
  return undefined;
}

/** Every key a config file may hold for this command (for "did you mean" and the README test). */
export function configKeys(cmd: Command): string[] {
  const keys = cmd.options.flatMap((o) => [...optionKeys(o), ...negatedKeys(o)]).filter((k) => k !== 'config' && k !== 'help');
  return [...new Set([...keys, ...META_KEYS])];
}

/** A config value converted the way commander would convert the same value given on the command line. */
function convert(path: string, key: string, o: Option, value: unknown): unknown {
  const where = `config file ${path}: '${key}'`;
  if (o.isBoolean() || o.negate) {
    if (typeof value !== 'boolean') throw new McError(`${where} is a flag: use true or false`, 'MCR_ERR_BAD_CONFIG');
    return value;
  }
  const one = (v: unknown, previous: unknown): unknown => {
    if (typeof v !== 'string' && typeof v !== 'number') throw new McError(`${where} must be a string or a number (got ${Array.isArray(v) ? 'an array' : typeof v})`, 'MCR_ERR_BAD_CONFIG');
    const s = String(v);
    if (o.argChoices && !o.argChoices.includes(s)) throw new McError(`${where}: '${s}' is not one of ${o.argChoices.join(', ')}`, 'MCR_ERR_BAD_CONFIG');
    if (!o.parseArg) return o.variadic ? [...(Array.isArray(previous) ? previous : []), s] : s;
    try {
      return o.parseArg(s, previous);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new McError(`${where}: ${err.message}`, 'MCR_ERR_BAD_CONFIG');
      throw err;
    }
  };
  if (Array.isArray(value)) {
    const repeatable = o.variadic || Array.isArray(o.defaultValue) || o.parseArg !== undefined;
    if (!repeatable) throw new McError(`${where} takes one value, not a list`, 'MCR_ERR_BAD_CONFIG');
    // a fresh collection: the file's list replaces the default rather than adding to it
    let acc: unknown = o.variadic || o.parseArg ? [] : undefined;
    for (const v of value) acc = one(v, acc);
    return acc;
  }
  return one(value, o.defaultValue);
}

/**
 * Applies a config file to a command's parsed options: each key sets the option unless it came from
 * the command line or the environment. `thresholds` fills `--threshold` (when the command has it)
 * unless thresholds were given on the command line. Call after parsing, before using the options.
 */
export function applyConfigFile(cmd: Command, config: ConfigFile): void {
  const known = configKeys(cmd).filter((k) => !META_KEYS.has(k));
  const unknown: string[] = [];
  for (const key of Object.keys(config.options)) {
    const f = findOption(cmd, key);
    if (!f || f.o.attributeName() === 'config' || f.o.attributeName() === 'help') unknown.push(key);
  }
  if (unknown.length) {
    const lines = unknown.map((k) => `unknown key '${k}'${suggest(k, known)}`);
    throw new McError(`config file ${config.path}: ${lines.join('; ')}`, 'MCR_ERR_BAD_CONFIG', `keys are the options of 'mcreplay ${cmd.name()}' (${[...new Set(cmd.options.map((o) => o.attributeName()))].filter((k) => k !== 'config').join(', ')}) and 'thresholds'`);
  }
  for (const [key, value] of Object.entries(config.options)) {
    const { o, negated } = findOption(cmd, key)!;
    const attr = o.attributeName();
    const source = cmd.getOptionValueSource(attr);
    if (source === 'cli' || source === 'env') continue;
    const v = convert(config.path, key, o, value);
    cmd.setOptionValueWithSource(attr, negated ? !v : v, 'config');
  }
  if (config.thresholds.length) {
    const t = findOption(cmd, 'threshold')?.o;
    if (!t) throw new McError(`config file ${config.path}: 'mcreplay ${cmd.name()}' takes no thresholds`, 'MCR_ERR_BAD_CONFIG');
    const source = cmd.getOptionValueSource(t.attributeName());
    if (source !== 'cli' && source !== 'env') cmd.setOptionValueWithSource(t.attributeName(), [...config.thresholds], 'config');
  }
}
