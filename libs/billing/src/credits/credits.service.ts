import { Injectable } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '@credits/config';
import { ValidationError } from '@credits/errors';
import { LedgerService } from '../ledger/ledger.service';
import { CreditBalanceResponse, CreditTransactionPage, ListTransactionsQuery } from './credits.dto';

/** Cursors are opaque to callers: the position after which the next page starts. */
function encodeCursor(seq: number): string {
  return Buffer.from(JSON.stringify({ s: seq })).toString('base64url');
}

function decodeCursor(cursor: string): number {
  try {
    const { s } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { s?: unknown };
    if (typeof s === 'number' && Number.isSafeInteger(s) && s > 0) return s;
  } catch {
    // reported below
  }
  throw new ValidationError([{ loc: ['query', 'cursor'], msg: 'Invalid cursor', type: 'value_error' }]);
}

@Injectable()
export class CreditsService {
  constructor(
    private readonly ledger: LedgerService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async balance(orgId: string): Promise<CreditBalanceResponse> {
    const balance = await this.ledger.balance(orgId);
    return { balance, is_low_balance: balance < this.config.credits.lowBalanceThreshold, auto_refill_enabled: false };
  }

  async transactions(orgId: string, query: ListTransactionsQuery): Promise<CreditTransactionPage> {
    const beforeSeq = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    // One extra row tells whether another page follows.
    const rows = await this.ledger.entries(orgId, { limit: query.limit + 1, beforeSeq, types: query.transaction_type });
    const page = rows.slice(0, query.limit);
    const hasMore = rows.length > query.limit;
    return {
      data: page.map((row) => ({
        id: row.id,
        amount: row.amount,
        balance_after: row.balanceAfter,
        transaction_type: row.transactionType,
        description: row.description,
        created_at: row.createdAt.toISOString(),
        checkout_session_id: row.checkoutSessionId,
      })),
      has_more: hasMore,
      next_cursor: hasMore ? encodeCursor(page[page.length - 1].seq) : null,
    };
  }
}
