// Bounded waits on what a test can observe: the shared replacement for fixed sleeps.

/**
 * Polls `cond` until it holds, for at most `ms` (then fails naming `what`): how a test waits for
 * something it can observe (a counter, a file, a state) instead of sleeping a fixed time. `what` may
 * be a function, called only on failure, to show the state last seen (a screen, a count).
 */
export async function waitFor(what: string | (() => string), cond: () => boolean | Promise<boolean>, ms = 10_000, everyMs = 20): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() >= end) throw new Error(`waited ${ms} ms for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
