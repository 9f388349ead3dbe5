// The command-line parsing every bench script shares: `--name value` options and bare `--flag`s,
// each taken out of `args` as it is read, so what is left is the positional arguments.

/** Option readers over `args` (mutated: what is read is removed). */
export function cliArgs(args) {
  return {
    /** The value after `name`, or `dflt` when it is not given. */
    opt(name, dflt) {
      const i = args.indexOf(name);
      return i >= 0 ? args.splice(i, 2)[1] : dflt;
    },
    /** Whether the bare flag `name` is given. */
    flag(name) {
      const i = args.indexOf(name);
      return i >= 0 ? (args.splice(i, 1), true) : false;
    },
  };
}
