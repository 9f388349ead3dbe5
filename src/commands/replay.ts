// Placeholder until the replay verb lands; replaced by its owner.
import type { Command } from 'commander';

/** Adds the 'replay' verb to the program. */
export function register(program: Command): void {
  program.command('replay').description('(not built yet)');
}
