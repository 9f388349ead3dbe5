// Placeholder until the report verb lands; replaced by its owner.
import type { Command } from 'commander';

/** Adds the 'report' verb to the program. */
export function register(program: Command): void {
  program.command('report').description('(not built yet)');
}
