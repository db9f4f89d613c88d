import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Db, InjectDb } from '@credits/database';
import { type AppliedEntry, LedgerService } from './ledger.service';

/**
 * An operator's correction of an org's balance (`credits grant`): one `admin_adjustment` entry
 * in its own transaction. A removal spends only what is available (never what holds reserve,
 * never below zero: `InsufficientBalanceError`). With `ref` it applies once per org and ref,
 * so running it again after a lost connection changes nothing.
 */
@Injectable()
export class AdminAdjustments {
  constructor(
    @InjectDb() private readonly db: Db,
    private readonly ledger: LedgerService,
  ) {}

  adjust(orgId: string, amount: number, reason: string, ref?: string): Promise<AppliedEntry> {
    return this.db.transaction((tx) =>
      this.ledger.apply(tx, {
        orgId,
        amount,
        transactionType: 'admin_adjustment',
        description: reason,
        // Per org: the same ticket may adjust two orgs once each.
        sourceRef: ref === undefined ? `admin:${randomUUID()}` : `admin:${orgId}:${ref}`,
      }),
    );
  }
}
