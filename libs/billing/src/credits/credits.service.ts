import { Injectable } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '@credits/config';
import { CursorCodec } from '@credits/pagination';
import { LedgerService } from '../ledger/ledger.service';
import { BalanceRepository } from './balance.repository';
import {
  CreditBalanceResponse,
  CreditTransactionPage,
  ListTransactionsQuery,
  toCreditTransaction,
} from './credits.dto';

/** The ledger resumes before this entry's sequence number. */
const ledgerCursor = new CursorCodec<number>(
  's',
  (value): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value > 0,
);

@Injectable()
export class CreditsService {
  constructor(
    private readonly ledger: LedgerService,
    private readonly balances: BalanceRepository,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async balance(orgId: string): Promise<CreditBalanceResponse> {
    const { balance, held, available, expiring, autoRefillEnabled } = await this.balances.summaryOf(orgId);
    return {
      balance,
      available_balance: available,
      held,
      expiring: expiring && { amount: expiring.amount, expires_at: expiring.expiresAt.toISOString() },
      is_low_balance: balance < this.config.credits.lowBalanceThreshold,
      auto_refill_enabled: autoRefillEnabled,
    };
  }

  async transactions(orgId: string, query: ListTransactionsQuery): Promise<CreditTransactionPage> {
    const beforeSeq = query.cursor === undefined ? undefined : ledgerCursor.decode(query.cursor);
    const rows = await this.ledger.entries(orgId, { limit: query.limit + 1, beforeSeq, types: query.transaction_type });
    return ledgerCursor.page(rows, query.limit, toCreditTransaction, (row) => row.seq);
  }
}
