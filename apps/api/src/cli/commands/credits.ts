import { InsufficientBalanceError } from '@credits/billing/ledger/ledger.service';
import { UsageError } from '../arguments';
import { type Command, CliFailure } from '../command';
import { auditOutput } from '../reconcile-output';

/** `credits …` */
export const creditsCommands: Record<string, Command> = {
  'credits grant': {
    args: '<slug> <amount> --reason TEXT [--ref ID]',
    help: [
      'add (or, negative, remove) credits: an admin_adjustment entry;',
      'with --ref, running it again (e.g. after a lost connection)',
      'applies it once',
    ],
    billing: true,
    positional: 2,
    flags: ['reason', 'ref'],
    check({ positional: [, amount], flags }) {
      if (!/^-?\d{1,12}$/.test(amount) || Number(amount) === 0)
        throw new UsageError('<amount> must be a non-zero whole number of credits');
      if (!flags.reason?.trim()) throw new UsageError("--reason is required: it is the ledger entry's description");
      if (flags.ref !== undefined && !/^[A-Za-z0-9._:-]{1,100}$/.test(flags.ref)) {
        throw new UsageError(
          '--ref must be 1-100 characters of A-Z, a-z, 0-9, ".", "_", ":", "-" (e.g. a ticket number)',
        );
      }
    },
    async run({ directory, billing }, { positional: [slug, amountText], flags }) {
      const { adjustments } = billing();
      const amount = Number(amountText);
      const org = await directory.orgBySlug(slug);
      let result;
      try {
        result = await adjustments.adjust(org.id, amount, flags.reason.trim(), flags.ref);
      } catch (error) {
        if (error instanceof InsufficientBalanceError) {
          throw new CliFailure(
            error.held > 0
              ? `the balance of ${slug} is ${error.balance}, of which ${error.held} held: removing ${-error.amount} would take the available balance below zero`
              : `the balance of ${slug} is ${error.balance}: removing ${-error.amount} would take it below zero`,
          );
        }
        throw error;
      }
      return {
        lines: [String(result.balance)],
        note: result.applied
          ? `${slug}: ${amount > 0 ? '+' : ''}${amount} credits; balance ${result.balance}`
          : `${slug}: --ref ${flags.ref} was already applied; nothing changed; balance ${result.balance}`,
        json: { org: slug, amount, applied: result.applied, balance: result.balance, ref: flags.ref ?? null },
      };
    },
  },
  'credits show': {
    args: '<slug>',
    help: ['the balance and the latest ledger entries'],
    positional: 1,
    async run({ directory, entries: ledger }, { positional: [slug] }) {
      const org = await directory.orgBySlug(slug);
      const [balance, entries] = await Promise.all([ledger.balance(org.id), ledger.entries(org.id, { limit: 20 })]);
      return {
        lines: [
          `balance\t${balance}`,
          ...entries.map(
            (entry) =>
              `${entry.createdAt.toISOString()}\t${entry.transactionType}\t${entry.amount > 0 ? '+' : ''}${entry.amount}\t${entry.balanceAfter}\t${entry.description}`,
          ),
        ],
        json: {
          org: slug,
          balance,
          entries: entries.map((entry) => ({
            id: entry.id,
            created_at: entry.createdAt,
            transaction_type: entry.transactionType,
            amount: entry.amount,
            balance_after: entry.balanceAfter,
            description: entry.description,
          })),
        },
      };
    },
  },
  'credits audit': {
    args: '',
    help: [
      'every org: balance = sum of its ledger, every purchase entry',
      'matches a paid session, no refill unsettled (in flight over a',
      'day, or charged and not granted); prints any drift, exits 1 on drift',
    ],
    positional: 0,
    billing: true,
    async run({ billing }) {
      const { audit } = billing();
      const report = await audit.audit();
      return { ...auditOutput(report), failure: report.clean ? undefined : 'the ledger has drifted (see above)' };
    },
  },
};
