import { Injectable } from '@nestjs/common';
import type { DbTransaction, GrantDraw } from '@credits/database';
import { LedgerRepository } from '../ledger/ledger.repository';
import { NotificationOutbox } from '../notifications/notification-outbox';
import { splitCapture } from './drawdown';
import { GrantsRepository } from './grants.repository';

/**
 * Writes off what grants can no longer spend, inside a transaction that holds the org's
 * balance lock: a grant past its `expires_at` loses its unheld remainder in one `expiration`
 * entry (`expiration:<grant id>`, unique, so once whatever the number of sweepers); what a
 * hold kept of a grant written off (expired or voided) is written off when the hold gives it
 * back (`expiration|void:<grant id>:<hold id>`). Every writer of an org's entries runs this
 * first when the org's `next_expiry_at` has passed, so an expiry is in the ledger before any
 * later entry, and the expiry job runs it within a minute for orgs nothing else wrote to.
 */
@Injectable()
export class GrantSettlement {
  constructor(
    private readonly ledger: LedgerRepository,
    private readonly grants: GrantsRepository,
    private readonly outbox: NotificationOutbox,
  ) {}

  async settle(tx: DbTransaction, orgId: string): Promise<void> {
    const grants = this.grants.in(tx);
    const due = await grants.dueToSettle(orgId);
    for (const grant of due) {
      const unheld = Math.max(0, grant.remaining - grant.held);
      const written = await this.writeOff(tx, orgId, 'expiration', `expiration:${grant.id}`, grant.id, unheld);
      if (grant.remaining === 0) continue;
      // Once per grant, at its expiry: what expired now, and what holds still keep of it (a
      // capture may spend that; what they give back is written off then, in the ledger only).
      await this.outbox.emit(tx, orgId, [
        {
          type: 'credits.expired',
          data: {
            grant_id: grant.id,
            credits: written ? unheld : 0,
            held: grant.held,
            transaction_id: written?.id ?? null,
            balance: written?.balanceAfter ?? (await this.ledger.in(tx).balance(orgId)),
          },
        },
      ]);
    }
    await grants.markSettled(
      orgId,
      due.map((grant) => grant.id),
    );
    await grants.markKept(
      orgId,
      due.map((grant) => grant.id),
    );
    await this.writeOffGivenBack(tx, orgId);
    await grants.refreshNextExpiry(orgId);
  }

  /** A grant voided now: its unheld remainder, written off at once (the caller marks it voided). */
  async voidRemainder(
    tx: DbTransaction,
    orgId: string,
    grant: { id: string; remaining: number },
    reason: string,
  ): Promise<{ amount: number; entryId: string | null }> {
    const grants = this.grants.in(tx);
    const held = await grants.heldOf(orgId, grant.id);
    const amount = Math.max(0, grant.remaining - held);
    const written = await this.writeOff(tx, orgId, 'void', `void:${grant.id}`, grant.id, amount, reason);
    await grants.markKept(orgId, [grant.id]);
    return { amount: written ? amount : 0, entryId: written?.id ?? null };
  }

  /**
   * What ended holds give back to grants written off while they kept credits of them (each
   * such hold notes those grants, `kept`): written off now, once per hold and grant.
   */
  async writeOffGivenBack(tx: DbTransaction, orgId: string): Promise<void> {
    const grants = this.grants.in(tx);
    const { holds, grants: settled } = await grants.endedKeepingHolds(orgId);
    if (holds.length === 0) return;
    const byId = new Map(settled.map((grant) => [grant.id, grant]));
    for (const hold of holds) {
      const givenBack: GrantDraw[] =
        hold.capturedAmount === null ? hold.draws : splitCapture(hold.draws, hold.capturedAmount).returned;
      for (const part of givenBack) {
        const grant = byId.get(part.grant_id);
        if (!grant || !hold.kept.includes(grant.id)) continue;
        const type = grant.voided ? 'void' : 'expiration';
        const amount = Math.min(part.amount, grant.remaining);
        if (await this.writeOff(tx, orgId, type, `${type}:${grant.id}:${hold.id}`, grant.id, amount)) {
          grant.remaining -= amount;
        }
      }
    }
    await grants.clearKept(
      orgId,
      holds.map((hold) => hold.id),
    );
  }

  private async writeOff(
    tx: DbTransaction,
    orgId: string,
    type: 'expiration' | 'void',
    sourceRef: string,
    grantId: string,
    amount: number,
    description?: string,
  ): Promise<{ id: string; balanceAfter: number } | null> {
    if (amount <= 0) return null;
    const entry = {
      amount: -amount,
      transactionType: type,
      description: description ?? (type === 'expiration' ? `Expiry of grant ${grantId}` : `Void of grant ${grantId}`),
      sourceRef,
      draws: [{ grant_id: grantId, amount }],
    };
    const written = await this.ledger.in(tx).debit(orgId, entry);
    if (!written) return null;
    await this.outbox.afterEntry(tx, orgId, { ...entry, entryId: written.id, balanceAfter: written.balanceAfter });
    return written;
  }
}
