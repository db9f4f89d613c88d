import { Injectable } from '@nestjs/common';
import { BalanceDrift, LedgerAuditRepository, PurchaseDrift } from './ledger-audit.repository';

export interface LedgerAudit {
  /** True when nothing drifted. */
  clean: boolean;
  /** Orgs whose balance is not the sum of their ledger. */
  balances: BalanceDrift[];
  /** Purchase entries that no paid Checkout session of the org accounts for. */
  purchases: PurchaseDrift[];
}

/** The ledger's invariants, checked for every org: what an operator runs after an incident. */
@Injectable()
export class LedgerAuditService {
  constructor(private readonly audits: LedgerAuditRepository) {}

  async audit(): Promise<LedgerAudit> {
    const [balances, purchases] = [await this.audits.balanceDrift(), await this.audits.purchaseDrift()];
    return { clean: balances.length === 0 && purchases.length === 0, balances, purchases };
  }
}
