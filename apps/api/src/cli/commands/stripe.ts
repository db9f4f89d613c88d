import { type Command } from '../command';
import { parseSince, reconcileOutput } from '../reconcile-output';

/** `stripe …` */
export const stripeCommands: Record<string, Command> = {
  'stripe reconcile': {
    args: '[--since 72h] [--dry-run]',
    help: [
      'grant every paid Checkout session of the window not granted yet',
      '(and mark expired ones); prints what it granted or would grant',
    ],
    positional: 0,
    flags: ['since'],
    switches: ['dry-run'],
    billing: true,
    check({ flags }) {
      parseSince(flags.since);
    },
    async run({ billing }, { flags, switches }) {
      const { reconciliation } = billing();
      const since = parseSince(flags.since);
      const dryRun = switches.has('dry-run');
      return reconcileOutput(await reconciliation.reconcile({ since, dryRun }), since, dryRun);
    },
  },
};
