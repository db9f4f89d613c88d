import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { TRANSACTION_TYPES, TransactionType } from '@credits/database';
import { AsList } from '@credits/errors';
import { PageSizeQuery } from '@credits/pagination';
import type { LedgerEntry } from '../ledger/ledger.repository';

/** Credits that expire soon unless spent. */
export interface ExpiringCredits {
  amount: number;
  expires_at: string;
}

@ApiSchema({ name: 'CreditBalance', description: "An organization's credit balance." })
export class CreditBalanceResponse {
  @ApiProperty({ description: 'Credits in the account (the sum of the ledger)', type: 'integer', example: 2500 })
  balance!: number;

  @ApiProperty({
    description:
      'Credits that can be spent now: the remaining credits of grants in effect (not voided, past `effective_at`, before `expires_at`) less what active holds reserve',
    type: 'integer',
    example: 2000,
  })
  available_balance!: number;

  @ApiProperty({ description: 'Credits reserved by active, unexpired holds', type: 'integer', example: 500 })
  held!: number;

  @ApiProperty({
    description:
      'The soonest grant expiry within the notice period (`EXPIRY_NOTICE_DAYS`, default 30): the credits left of the grants expiring then, and when; null when none expires that soon',
    type: 'object',
    nullable: true,
    required: ['amount', 'expires_at'],
    properties: {
      amount: { type: 'integer', description: 'Credits left of the grants expiring at `expires_at`', example: 500 },
      expires_at: { type: 'string', format: 'date-time', description: 'When they expire (ISO 8601)' },
    },
  })
  expiring!: ExpiringCredits | null;

  @ApiProperty({ description: 'Whether the balance is below the low-balance threshold', example: false })
  is_low_balance!: boolean;

  @ApiProperty({
    description:
      'Whether auto-refill is on: the saved card is charged when the available balance falls below its threshold (see `GET /credits/auto-refill`)',
    example: false,
  })
  auto_refill_enabled!: boolean;
}

export class ListTransactionsQuery extends PageSizeQuery {
  @ApiPropertyOptional({ description: "Opaque cursor from the previous page's `next_cursor`" })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({
    description: 'Only these transaction types (repeat the parameter for several)',
    enum: TRANSACTION_TYPES,
    isArray: true,
  })
  @AsList()
  @IsOptional()
  @IsIn(TRANSACTION_TYPES, { each: true })
  transaction_type?: TransactionType[];
}

@ApiSchema({ name: 'CreditTransaction', description: 'One ledger entry.' })
export class CreditTransaction {
  @ApiProperty({ description: 'Entry id', format: 'uuid' })
  id!: string;

  @ApiProperty({ description: 'Credits added (positive) or removed (negative)', type: 'integer', example: 1000 })
  amount!: number;

  @ApiProperty({ description: 'Balance right after this entry', type: 'integer', example: 2500 })
  balance_after!: number;

  @ApiProperty({ description: 'What caused the entry', enum: TRANSACTION_TYPES, example: 'purchase' })
  transaction_type!: TransactionType;

  @ApiProperty({ description: 'Human-readable description', example: 'Purchase of 1 credit bundle (1000 credits)' })
  description!: string;

  @ApiProperty({ description: 'When the entry was written (ISO 8601)', format: 'date-time' })
  created_at!: string;

  @ApiProperty({
    description: 'The Checkout session behind a purchase or refund',
    nullable: true,
    type: 'string',
    example: 'cs_test_a1b2c3',
  })
  checkout_session_id!: string | null;

  @ApiProperty({
    description: "The payment's receipt at Stripe, on purchase and auto-refill entries once known",
    nullable: true,
    type: 'string',
    format: 'uri',
    example: 'https://pay.stripe.com/receipts/payment/abc123',
  })
  receipt_url!: string | null;
}

/** A ledger entry as every route presents it (the ledger listing, a capture's answer). */
export function toCreditTransaction(entry: LedgerEntry): CreditTransaction {
  return {
    id: entry.id,
    amount: entry.amount,
    balance_after: entry.balanceAfter,
    transaction_type: entry.transactionType,
    description: entry.description,
    created_at: entry.createdAt.toISOString(),
    checkout_session_id: entry.checkoutSessionId,
    receipt_url: entry.receiptUrl,
  };
}

@ApiSchema({ name: 'CreditTransactionPage', description: 'A page of the ledger, newest first.' })
export class CreditTransactionPage {
  @ApiProperty({ type: [CreditTransaction] })
  data!: CreditTransaction[];

  @ApiProperty({ description: 'Whether more entries follow', example: false })
  has_more!: boolean;

  @ApiProperty({
    description: 'Pass as `cursor` to get the next page; null on the last page',
    nullable: true,
    type: 'string',
  })
  next_cursor!: string | null;
}
