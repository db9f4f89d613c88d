import { Injectable } from '@nestjs/common';
import type { DbTransaction } from '@credits/database';

/**
 * The one seam for whatever must react when a write lowers an org's available balance
 * (balance − active holds): auto-refill starts here when it falls below the org's threshold.
 * Called inside the write's transaction, after its entries, with the available balance the
 * write leaves, so a job enqueued here exists if and only if the debits commit.
 * Today only usage debits call it (once per group commit); holds and captures should too.
 */
@Injectable()
export class BalanceWatch {
  async afterDebits(_tx: DbTransaction, _orgId: string, _availableBalance: number): Promise<void> {
    // Nothing reacts yet: auto-refill (§1.2) is the first listener.
  }
}
