// Placeholder until the compare verb lands; replaced by its owner.
import type { Command } from 'commander';

/** Adds the 'compare' verb to the program. */
export function register(program: Command): void {
  program.command('compare').description('(not built yet)');
}
