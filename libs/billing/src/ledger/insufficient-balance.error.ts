/**
 * A debit the credits in effect cannot cover. Its own file: the admin CLI tells it apart from
 * other failures without loading the ledger (and the job queue behind it) for every command.
 */
export class InsufficientBalanceError extends Error {
  constructor(
    readonly balance: number,
    readonly amount: number,
    /** Credits the grants in effect have unheld: what the debit could take. */
    readonly available = balance,
  ) {
    super(`balance ${balance} (${available} available) cannot cover ${-amount}`);
  }
}
