/** What a command produced, for people (text) and for scripts (`--json`). */
export interface CommandOutput {
  /** Text mode, stdout: what a script would capture (a key, a balance, rows of a list). */
  lines?: string[];
  /** Text mode, stderr: a sentence for the person at the terminal. */
  note?: string;
  /** `--json`: the one document printed on stdout instead of `lines` and `note`. */
  json: unknown;
  /** Printed, and yet a failure (exit 1, this on stderr): e.g. the audit found drift. */
  failure?: string;
}
