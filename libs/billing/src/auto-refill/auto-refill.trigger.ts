import { Injectable } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '@credits/config';
import type { DbTransaction } from '@credits/database';
import { JobsService } from '@credits/jobs';
import type { AfterDebit } from './after-debit';
import { autoRefillChargeJob } from './auto-refill-jobs';
import { AutoRefillRepository, BundlePrice } from './auto-refill.repository';

/**
 * Starts a refill when a write leaves an org below its auto-refill threshold: the refill row
 * and the job that charges the card, in the caller's transaction, so both exist if, and only
 * if, the write commits. Costs one statement when no refill is due.
 */
@Injectable()
export class AutoRefillTrigger implements AfterDebit {
  private readonly price: BundlePrice;

  constructor(
    private readonly refills: AutoRefillRepository,
    private readonly jobs: JobsService,
    @InjectConfig() config: AppConfig,
  ) {
    const { creditsPerBundle, unitAmount, currency } = config.checkout;
    this.price = { creditsPerBundle, unitAmount, currency };
  }

  afterDebit(tx: DbTransaction, orgId: string, availableBalance: number): Promise<void> {
    return this.startIfDue(tx, orgId, availableBalance).then(() => undefined);
  }

  /** Answers the refill started, if one was. */
  async startIfDue(tx: DbTransaction, orgId: string, availableBalance: number): Promise<string | undefined> {
    const refillId = await this.refills.in(tx).startIfDue(orgId, availableBalance, this.price);
    if (refillId) await this.jobs.send(autoRefillChargeJob, { refillId }, { tx });
    return refillId;
  }
}
