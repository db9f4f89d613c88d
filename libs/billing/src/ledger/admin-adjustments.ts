import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Db, InjectDb } from '@credits/database';
import { ConflictError, NotFoundError } from '@credits/errors';
import { GrantSettlement } from '../grants/grant-settlement';
import { GrantsRepository } from '../grants/grants.repository';
import type { NewGrant } from './ledger.repository';
import { type AppliedEntry, LedgerService } from './ledger.service';

/** What a void did: the credits it wrote off (what holds keep is written off as they give it back). */
export interface VoidedGrant {
  orgId: string;
  grantId: string;
  /** False when the grant was already voided: nothing changed. */
  voided: boolean;
  amount: number;
  balance: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * An operator's corrections (`credits grant`, `credits void`), each in its own transaction.
 * A grant adds credits as a grant with the terms given (an `admin_adjustment` entry); a
 * removal draws like a debit, only what is available (never what holds reserve, never below
 * zero: `InsufficientBalanceError`). With `ref` it applies once per org and ref, so running it
 * again after a lost connection changes nothing. A void writes off a grant's unheld remainder.
 */
@Injectable()
export class AdminAdjustments {
  constructor(
    @InjectDb() private readonly db: Db,
    private readonly ledger: LedgerService,
    private readonly grants: GrantsRepository,
    private readonly settlement: GrantSettlement,
  ) {}

  adjust(
    orgId: string,
    amount: number,
    reason: string,
    ref?: string,
    terms?: Partial<Omit<NewGrant, 'source' | 'description'>>,
  ): Promise<AppliedEntry & { grantId?: string }> {
    // Per org: the same ticket may adjust two orgs once each.
    const sourceRef = ref === undefined ? `admin:${randomUUID()}` : `admin:${orgId}:${ref}`;
    return this.db.transaction(async (tx) => {
      const applied = await this.ledger.apply(tx, {
        orgId,
        amount,
        transactionType: 'admin_adjustment',
        description: reason,
        sourceRef,
        grant: { ...terms, source: 'admin', description: reason },
      });
      const grantId = amount > 0 ? await this.grants.in(tx).idBySource(orgId, sourceRef) : undefined;
      return { ...applied, grantId };
    });
  }

  async void(grantId: string, reason: string): Promise<VoidedGrant> {
    const orgId = UUID.test(grantId) ? await this.grants.orgOf(grantId) : undefined;
    if (!orgId) throw new NotFoundError('No such grant');
    return this.db.transaction(async (tx) => {
      // Expiries due first: a grant that expired is written off as expired, not voided.
      await this.ledger.lockBalance(tx, orgId);
      const grants = this.grants.in(tx);
      const grant = (await grants.lock(orgId, grantId))!;
      if (grant.voidedAt) {
        return { orgId, grantId, voided: false, amount: 0, balance: await this.ledger.lockBalance(tx, orgId) };
      }
      if (grant.settledAt) throw new ConflictError('This grant has expired: there is nothing left to void');
      const { amount } = await this.settlement.voidRemainder(tx, orgId, grant, reason);
      await grants.markVoided(orgId, grantId);
      // What holds keep of it is written off as they give it back: from now, not at its expiry.
      await grants.refreshNextExpiry(orgId);
      return { orgId, grantId, voided: true, amount, balance: await this.ledger.lockBalance(tx, orgId) };
    });
  }
}
