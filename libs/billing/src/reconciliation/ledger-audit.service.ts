import { Injectable } from '@nestjs/common';
import { BalanceDrift, LedgerAuditRepository, PurchaseDrift, RefillDrift } from './ledger-audit.repository';

export interface LedgerAudit {
  /** True when nothing drifted. */
  clean: boolean;
  /** Orgs whose balance is not the sum of their ledger. */
  balances: BalanceDrift[];
  /** Purchase entries that no paid Checkout session of the org accounts for. */
  purchases: PurchaseDrift[];
  /** Refills unsettled: in flight for more than a day, or charged and not granted. */
  refills: RefillDrift[];
}

/** The ledger's invariants, checked for every org: what an operator runs after an incident. */
@Injectable()
export class LedgerAuditService {
  constructor(private readonly audits: LedgerAuditRepository) {}

  async audit(): Promise<LedgerAudit> {
    const balances = await this.audits.balanceDrift();
    const purchases = await this.audits.purchaseDrift();
    const refills = await this.audits.refillDrift();
    const clean = balances.length === 0 && purchases.length === 0 && refills.length === 0;
    return { clean, balances, purchases, refills };
  }
}
