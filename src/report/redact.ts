// What of a results file's free-form fields (argv, filters, options, targets) a report may print.
// Credentials never appear; anything naming keys (key filters, prefixes, patterns) only with
// --show-keys, because key names from production often carry user ids or emails.

/** Placeholder for a value that is not shown. */
export const REDACTED = '‹redacted›';

const CREDENTIAL = /pass|secret|token|auth|sasl|credential|cookie|bearer|user(name)?$/i;
const KEYISH = /key|prefix|pattern|regex|match|glob|include|exclude/i;

/** True when an option name carries a credential. */
export function isCredentialName(name: string): boolean {
  return CREDENTIAL.test(name);
}

/** True when an option name carries key names or key patterns. */
export function isKeyName(name: string): boolean {
  return KEYISH.test(name) && !/^(hash|ketama)/i.test(name);
}

/** Strips user:password@ from a target or URL. */
export function stripUserinfo(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^@/\s]*@/i, (_m, scheme: string | undefined) => `${scheme ?? ''}${REDACTED}@`);
}

/** The command line as it may be printed: credential values always hidden, key values unless showKeys. */
export function safeArgv(argv: readonly string[], showKeys: boolean): string[] {
  const out: string[] = [];
  let hideNext: 'cred' | 'key' | null = null;
  for (const a of argv) {
    if (hideNext) {
      out.push(hideNext === 'key' && showKeys ? a : REDACTED);
      hideNext = null;
      continue;
    }
    const m = /^(--?[^=]+)(=(.*))?$/.exec(a);
    if (m && a.startsWith('-')) {
      const name = m[1]!.replace(/^-+/, '');
      const kind = isCredentialName(name) ? 'cred' : isKeyName(name) ? 'key' : null;
      if (m[2] !== undefined) {
        out.push(kind === 'cred' || (kind === 'key' && !showKeys) ? `${m[1]}=${REDACTED}` : stripUserinfo(a));
      } else {
        out.push(a);
        hideNext = kind;
      }
      continue;
    }
    out.push(a.includes('@') ? stripUserinfo(a) : a);
  }
  return out;
}

/** A free-form option object as it may be printed (same rules as safeArgv, applied to names). */
export function safeObject(o: Record<string, unknown>, showKeys: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o ?? {})) {
    if (isCredentialName(k)) out[k] = REDACTED;
    else if (isKeyName(k) && !showKeys) out[k] = REDACTED;
    else if (v && typeof v === 'object' && !Array.isArray(v)) out[k] = safeObject(v as Record<string, unknown>, showKeys);
    else if (typeof v === 'string' && v.includes('@')) out[k] = stripUserinfo(v);
    else out[k] = v;
  }
  return out;
}

/** One argument as a POSIX shell word: bare when it is plain, else single-quoted, so a printed command pastes back. */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
