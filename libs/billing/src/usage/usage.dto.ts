import { ApiProperty, ApiPropertyOptional, type ApiPropertyOptions, ApiSchema } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { TRANSACTION_TYPES } from '@credits/database';
import { NestedOf } from '@credits/errors';
import type { CreditTransaction } from '../credits/credits.dto';
import { IsMetadata, MAX_CREDITS, MAX_DESCRIPTION_LENGTH, metadataSchema, MIN_CREDITS } from '../spending/spend-fields';

export const MAX_BATCH_ITEMS = 500;
export const MAX_USAGE_KEY_LENGTH = 255;
const PRINTABLE = /^[\x21-\x7e]+$/;

const METADATA_SCHEMA = metadataSchema("The host's own fields, stored on the ledger entry", {
  sandbox_id: 'sbx_123',
  model: 'large',
});

const AMOUNT_SCHEMA = {
  description: 'Credits to debit: a JSON integer',
  type: 'integer',
  minimum: MIN_CREDITS,
  maximum: MAX_CREDITS,
  example: 25,
} as const;

/** The fields one debit carries, single or in a batch. */
class UsageFields {
  @ApiProperty(AMOUNT_SCHEMA)
  @IsDefined()
  @IsInt()
  @Min(MIN_CREDITS)
  @Max(MAX_CREDITS)
  amount!: number;

  @ApiPropertyOptional({
    description: "The ledger entry's description (default `Usage`)",
    type: 'string',
    maxLength: MAX_DESCRIPTION_LENGTH,
    example: 'Sandbox minutes',
  })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_DESCRIPTION_LENGTH)
  description?: string;

  @ApiPropertyOptional(METADATA_SCHEMA)
  @IsOptional()
  @IsMetadata()
  metadata?: Record<string, string>;
}

@ApiSchema({ name: 'RecordUsageRequest', description: 'One debit of usage that happened (or is about to).' })
export class RecordUsageRequest extends UsageFields {
  @ApiPropertyOptional({
    description:
      'Debit what is available when it cannot cover `amount` (usage that already happened), reporting `debited` and `shortfall`, instead of answering 402',
    type: 'boolean',
    default: false,
  })
  @IsOptional()
  @IsBoolean()
  allow_partial?: boolean;
}

/**
 * `CreditTransaction` or null, spelled out: OpenAPI 3.0's `nullable` does not reach into a `$ref`
 * (an `allOf` of it would refuse null), and a bare nullable object would be shapeless.
 * Keep in step with `CreditTransaction`.
 */
const NULLABLE_TRANSACTION_SCHEMA: ApiPropertyOptions = {
  description: 'The `usage` ledger entry, as the ledger lists it; null when `allow_partial` found nothing to debit',
  type: 'object',
  nullable: true,
  properties: {
    id: { type: 'string', format: 'uuid', description: 'Entry id' },
    amount: { type: 'integer', description: 'Credits removed (negative)', example: -25 },
    balance_after: { type: 'integer', description: 'Balance right after this entry', example: 2475 },
    transaction_type: { type: 'string', enum: [...TRANSACTION_TYPES], description: 'Always `usage` here' },
    description: { type: 'string', description: 'Human-readable description', example: 'Sandbox minutes' },
    created_at: { type: 'string', format: 'date-time', description: 'When the entry was written (ISO 8601)' },
    checkout_session_id: { type: 'string', nullable: true, description: 'Always null for usage' },
    receipt_url: { type: 'string', nullable: true, description: 'Always null for usage' },
  },
  required: [
    'id',
    'amount',
    'balance_after',
    'transaction_type',
    'description',
    'created_at',
    'checkout_session_id',
    'receipt_url',
  ],
};

@ApiSchema({ name: 'RecordUsageResponse', description: 'The debit and the balance after it.' })
export class RecordUsageResponse {
  @ApiProperty(NULLABLE_TRANSACTION_SCHEMA)
  transaction!: CreditTransaction | null;

  @ApiProperty({ description: 'Balance right after this debit', type: 'integer', example: 2475 })
  balance!: number;

  @ApiProperty({ description: 'Balance minus active holds, right after this debit', type: 'integer', example: 2475 })
  available_balance!: number;

  @ApiProperty({ description: 'Credits debited (less than `amount` only with `allow_partial`)', type: 'integer' })
  debited!: number;

  @ApiProperty({ description: '`amount` minus `debited`', type: 'integer', example: 0 })
  shortfall!: number;
}

@ApiSchema({ name: 'UsageBatchItem', description: 'One debit of a batch, with its own idempotency key.' })
export class UsageBatchItem extends UsageFields {
  @ApiProperty({
    description:
      "The host's usage id: the same key space as the `Idempotency-Key` of single debits (per org, 30 days). 1–255 printable characters",
    type: 'string',
    minLength: 1,
    maxLength: MAX_USAGE_KEY_LENGTH,
    pattern: '^[\\x21-\\x7e]+$',
    example: 'usage_2f9c1b',
  })
  @IsDefined()
  @IsString()
  @MinLength(1)
  @MaxLength(MAX_USAGE_KEY_LENGTH)
  @Matches(PRINTABLE)
  idempotency_key!: string;
}

@ApiSchema({ name: 'RecordUsageBatchRequest', description: 'Debits applied in order, each on its own.' })
export class RecordUsageBatchRequest {
  @ApiProperty({ type: [UsageBatchItem], minItems: 1, maxItems: MAX_BATCH_ITEMS })
  @IsDefined()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BATCH_ITEMS)
  // ValidateNested passes an item that is itself an array (it validates the array's elements).
  @IsObject({ each: true })
  @ValidateNested({ each: true })
  @NestedOf(() => UsageBatchItem)
  items!: UsageBatchItem[];
}

export const USAGE_BATCH_STATUSES = ['applied', 'duplicate', 'insufficient_credits', 'conflict', 'failed'] as const;
export type UsageBatchStatus = (typeof USAGE_BATCH_STATUSES)[number];

/** Why an item was not applied. */
export interface UsageBatchItemError {
  type: 'insufficient_credits_error' | 'conflict_error' | 'api_error';
  detail: string;
}

@ApiSchema({ name: 'UsageBatchResult', description: "One item's outcome." })
export class UsageBatchResult {
  @ApiProperty({ description: "The item's key", example: 'usage_2f9c1b' })
  idempotency_key!: string;

  @ApiProperty({
    description:
      '`applied` (debited now), `duplicate` (the key was already used with this body: nothing debited again), ' +
      '`insufficient_credits` (nothing written; a retry may succeed), `conflict` (the key was used with another body), ' +
      '`failed` (this item could not be written while the others were: nothing debited for it; send it again with ' +
      'the same key)',
    enum: USAGE_BATCH_STATUSES,
    example: 'applied',
  })
  status!: UsageBatchStatus;

  @ApiProperty({
    description: 'The ledger entry of the debit (for `duplicate`, the first one)',
    type: 'string',
    format: 'uuid',
    nullable: true,
  })
  transaction_id!: string | null;

  @ApiProperty({
    description: 'Balance right after the debit (for `duplicate`, after the first one)',
    type: 'integer',
    nullable: true,
  })
  balance_after!: number | null;

  @ApiProperty({
    description: 'Why the item was not applied (`insufficient_credits`, `conflict`, `failed`); null otherwise',
    type: 'object',
    nullable: true,
    properties: {
      type: { type: 'string', description: 'The error type a single debit would answer', example: 'conflict_error' },
      detail: { type: 'string', description: 'A human-readable message' },
    },
    required: ['type', 'detail'],
  })
  error!: UsageBatchItemError | null;
}

@ApiSchema({ name: 'RecordUsageBatchResponse', description: 'One result per item, in order.' })
export class RecordUsageBatchResponse {
  @ApiProperty({ type: [UsageBatchResult] })
  results!: UsageBatchResult[];
}
