import type { NewGrant } from '@credits/billing/ledger/ledger.repository';
import { InsufficientBalanceError } from '@credits/billing/ledger/insufficient-balance.error';
import { ApiException } from '@credits/errors/api-exception';
import { parseDuration, UsageError } from '../arguments';
import { type Command, CliFailure } from '../command';
import { auditOutput } from '../reconcile-output';

/** `credits …` */
export const creditsCommands: Record<string, Command> = {
  'credits grant': {
    args: '<slug> <amount> --reason TEXT [--ref ID] [--expires-in 30d | --expires-at ISO] [--effective-at ISO] [--priority 0-100] [--category paid|promotional]',
    help: [
      'add credits as a grant (an admin_adjustment entry): paid and',
      'never expiring unless told; priority 0-100 (default 50, lower',
      'spent first). Negative: remove credits, drawn like a debit.',
      'With --ref, running it again (e.g. after a lost connection)',
      'applies it once',
    ],
    billing: true,
    positional: 2,
    flags: ['reason', 'ref', 'expires-in', 'expires-at', 'effective-at', 'priority', 'category'],
    check({ positional: [, amount], flags }) {
      if (!/^-?\d{1,12}$/.test(amount) || Number(amount) === 0)
        throw new UsageError('<amount> must be a non-zero whole number of credits');
      if (!flags.reason?.trim()) throw new UsageError("--reason is required: it is the ledger entry's description");
      if (flags.ref !== undefined && !/^[A-Za-z0-9._:-]{1,100}$/.test(flags.ref)) {
        throw new UsageError(
          '--ref must be 1-100 characters of A-Z, a-z, 0-9, ".", "_", ":", "-" (e.g. a ticket number)',
        );
      }
      const terms = grantTerms(flags);
      if (Number(amount) < 0 && Object.values(terms).some((value) => value !== undefined)) {
        throw new UsageError('a removal takes no grant terms (--expires-*, --effective-at, --priority, --category)');
      }
    },
    async run({ directory, billing }, { positional: [slug, amountText], flags }) {
      const { adjustments } = billing();
      const amount = Number(amountText);
      const org = await directory.orgBySlug(slug);
      let result;
      try {
        result = await adjustments.adjust(org.id, amount, flags.reason.trim(), flags.ref, grantTerms(flags));
      } catch (error) {
        if (error instanceof InsufficientBalanceError) {
          throw new CliFailure(
            error.available < error.balance
              ? `the balance of ${slug} is ${error.balance}, of which ${error.available} available (held, expired or not yet in effect: the rest): removing ${-error.amount} would take more than that`
              : `the balance of ${slug} is ${error.balance}: removing ${-error.amount} would take it below zero`,
          );
        }
        throw error;
      }
      const grant = result.grantId ?? null;
      return {
        lines: [String(result.balance)],
        note: result.applied
          ? `${slug}: ${amount > 0 ? '+' : ''}${amount} credits${grant ? ` (grant ${grant})` : ''}; balance ${result.balance}`
          : `${slug}: --ref ${flags.ref} was already applied; nothing changed; balance ${result.balance}`,
        json: {
          org: slug,
          amount,
          applied: result.applied,
          balance: result.balance,
          ref: flags.ref ?? null,
          grant_id: grant,
        },
      };
    },
  },
  'credits void': {
    args: '<grant id> --reason TEXT',
    help: [
      'take back a grant: its unspent, unheld credits become one void',
      'entry now (what holds keep of it, when they give it back);',
      'voiding it again changes nothing',
    ],
    billing: true,
    positional: 1,
    flags: ['reason'],
    check({ flags }) {
      if (!flags.reason?.trim()) throw new UsageError("--reason is required: it is the void entry's description");
    },
    async run({ billing }, { positional: [grantId], flags }) {
      const { adjustments } = billing();
      let result;
      try {
        result = await adjustments.void(grantId, flags.reason.trim());
      } catch (error) {
        if (error instanceof ApiException) throw new CliFailure(`${grantId}: ${error.message}`);
        throw error;
      }
      return {
        lines: [String(result.balance)],
        note: result.voided
          ? `grant ${grantId} voided: ${result.amount} credits written off; balance ${result.balance}`
          : `grant ${grantId} was already voided; nothing changed; balance ${result.balance}`,
        json: { grant_id: grantId, voided: result.voided, amount: result.amount, balance: result.balance },
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

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;

function isoFlag(flags: Record<string, string | undefined>, name: string): Date | undefined {
  const text = flags[name];
  if (text === undefined) return undefined;
  const at = new Date(text);
  if (!ISO_TIME.test(text) || Number.isNaN(at.getTime())) {
    throw new UsageError(
      `--${name} must be an ISO 8601 time with its offset, e.g. 2027-03-01T00:00:00Z (got "${text}")`,
    );
  }
  return at;
}

/** A grant's terms from `credits grant`'s flags (undefined: the default). */
function grantTerms(flags: Record<string, string | undefined>): Partial<NewGrant> {
  if (flags['expires-in'] !== undefined && flags['expires-at'] !== undefined) {
    throw new UsageError('give --expires-in or --expires-at, not both');
  }
  const expiresAt = isoFlag(flags, 'expires-at');
  const effectiveAt = isoFlag(flags, 'effective-at');
  if (expiresAt && expiresAt.getTime() <= Math.max(Date.now(), effectiveAt?.getTime() ?? 0)) {
    throw new UsageError('--expires-at must be in the future, and after --effective-at');
  }
  if (flags.priority !== undefined && !(/^\d{1,3}$/.test(flags.priority) && Number(flags.priority) <= 100)) {
    throw new UsageError(`--priority must be a whole number from 0 to 100 (got "${flags.priority}")`);
  }
  if (flags.category !== undefined && flags.category !== 'paid' && flags.category !== 'promotional') {
    throw new UsageError(`--category must be paid or promotional (got "${flags.category}")`);
  }
  const expiry =
    flags['expires-in'] !== undefined
      ? { afterSeconds: parseDuration(flags['expires-in']) / 1000 }
      : expiresAt
        ? { at: expiresAt }
        : undefined;
  return {
    expiry,
    effectiveAt,
    priority: flags.priority === undefined ? undefined : Number(flags.priority),
    category: flags.category,
  };
}
