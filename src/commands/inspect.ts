// Placeholder until the inspect verb lands; replaced by its owner.
import type { Command } from 'commander';

/** Adds the 'inspect' verb to the program. */
export function register(program: Command): void {
  program.command('inspect').description('(not built yet)');
}
