import { Injectable } from '@nestjs/common';
import { Db, InjectDb } from '@credits/database';
import { ValidationError } from '@credits/errors';
import { GrantBook } from '../grants/drawdown';
import { GrantsRepository } from '../grants/grants.repository';
import { AutoRefillSettingsRequest, AutoRefillSettingsResponse, DEFAULT_MONTHLY_LIMIT } from './auto-refill.dto';
import { AutoRefillRepository, AutoRefillSettingsRow } from './auto-refill.repository';
import { AutoRefillTrigger } from './auto-refill.trigger';

/** Reading and choosing an org's auto-refill settings. */
@Injectable()
export class AutoRefillSettingsService {
  constructor(
    @InjectDb() private readonly db: Db,
    private readonly refills: AutoRefillRepository,
    private readonly grants: GrantsRepository,
    private readonly trigger: AutoRefillTrigger,
  ) {}

  async get(orgId: string): Promise<AutoRefillSettingsResponse> {
    return this.present(orgId, await this.refills.settings(orgId));
  }

  /**
   * Enabling needs a saved card, and forgets the last failure (whoever re-enables has seen
   * it). An org already below its new threshold starts a refill now, in the same
   * transaction: waiting for the next debit could leave it short.
   */
  async choose(orgId: string, request: AutoRefillSettingsRequest): Promise<AutoRefillSettingsResponse> {
    const row = await this.db.transaction(async (tx) => {
      const writer = this.refills.in(tx);
      const current = await writer.settings(orgId);
      if (request.enabled && !current?.paymentMethodId) {
        throw new ValidationError(
          [
            {
              loc: ['body', 'enabled'],
              msg: 'No saved card: buy credits once with save_payment_method set to true, then enable auto-refill',
              type: 'payment_method_required',
            },
          ],
          'Auto-refill needs a saved payment method',
        );
      }
      const chosen = await writer.choose(
        orgId,
        {
          enabled: request.enabled,
          threshold: request.threshold,
          quantity: request.quantity,
          monthlyLimit: request.monthly_limit,
        },
        request.enabled,
      );
      if (chosen.enabled) {
        const { available } = new GrantBook(await this.grants.in(tx).spendable(orgId));
        await this.trigger.startIfDue(tx, orgId, available);
      }
      return chosen;
    });
    return this.present(orgId, row);
  }

  private async present(orgId: string, row: AutoRefillSettingsRow | undefined): Promise<AutoRefillSettingsResponse> {
    return {
      enabled: row?.enabled ?? false,
      threshold: row?.threshold ?? 0,
      quantity: row?.quantity ?? 1,
      monthly_limit: row?.monthlyLimit ?? DEFAULT_MONTHLY_LIMIT,
      payment_method: row?.paymentMethodId
        ? { brand: row.cardBrand, last4: row.cardLast4, exp_month: row.cardExpMonth, exp_year: row.cardExpYear }
        : null,
      refills_this_month: await this.refills.refillsThisMonth(orgId),
      last_failure:
        row?.lastFailureAt && row.lastFailureCode
          ? { at: row.lastFailureAt.toISOString(), code: row.lastFailureCode, message: row.lastFailureMessage ?? '' }
          : null,
    };
  }
}
