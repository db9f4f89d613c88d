import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsBoolean, IsDefined, IsInt, Max, Min } from 'class-validator';
import { MAX_BUNDLES, MIN_BUNDLES } from '../checkout/checkout.dto';

export const MAX_THRESHOLD = 1_000_000_000;
export const MIN_MONTHLY_LIMIT = 1;
export const MAX_MONTHLY_LIMIT = 100;
export const DEFAULT_MONTHLY_LIMIT = 5;

@ApiSchema({ name: 'AutoRefillSettingsRequest', description: "An organization's auto-refill settings." })
export class AutoRefillSettingsRequest {
  @ApiProperty({
    description:
      'Whether to charge the saved card automatically when the available balance falls below the threshold. Enabling needs a saved card (a checkout with `save_payment_method: true`).',
    example: true,
  })
  @IsDefined()
  @IsBoolean()
  enabled!: boolean;

  @ApiProperty({
    description: 'Refill when the available balance falls below this many credits',
    type: 'integer',
    minimum: 0,
    maximum: MAX_THRESHOLD,
    example: 500,
  })
  @IsDefined()
  @IsInt()
  @Min(0)
  @Max(MAX_THRESHOLD)
  threshold!: number;

  @ApiProperty({
    description: 'Credit bundles to buy per refill (1-10)',
    type: 'integer',
    minimum: MIN_BUNDLES,
    maximum: MAX_BUNDLES,
    example: 1,
  })
  @IsDefined()
  @IsInt()
  @Min(MIN_BUNDLES)
  @Max(MAX_BUNDLES)
  quantity!: number;

  @ApiPropertyOptional({
    description: 'Most refills per calendar month (UTC), counting those that succeeded or are in progress (1-100)',
    type: 'integer',
    minimum: MIN_MONTHLY_LIMIT,
    maximum: MAX_MONTHLY_LIMIT,
    default: DEFAULT_MONTHLY_LIMIT,
    example: DEFAULT_MONTHLY_LIMIT,
  })
  @IsInt()
  @Min(MIN_MONTHLY_LIMIT)
  @Max(MAX_MONTHLY_LIMIT)
  monthly_limit: number = DEFAULT_MONTHLY_LIMIT;
}

/** The card auto-refill charges (display fields only). */
export interface SavedPaymentMethod {
  brand: string | null;
  last4: string | null;
  exp_month: number | null;
  exp_year: number | null;
}

/** Why the last refill failed (auto-refill was then turned off). */
export interface AutoRefillFailure {
  at: string;
  code: string;
  message: string;
}

@ApiSchema({ name: 'AutoRefillSettings', description: "An organization's auto-refill settings and state." })
export class AutoRefillSettingsResponse {
  @ApiProperty({ description: 'Whether auto-refill is on', example: true })
  enabled!: boolean;

  @ApiProperty({
    description: 'Refill when the available balance falls below this many credits',
    type: 'integer',
    example: 500,
  })
  threshold!: number;

  @ApiProperty({ description: 'Credit bundles bought per refill', type: 'integer', example: 1 })
  quantity!: number;

  @ApiProperty({
    description: 'Most refills per calendar month (UTC)',
    type: 'integer',
    example: DEFAULT_MONTHLY_LIMIT,
  })
  monthly_limit!: number;

  // Inline, not a $ref: OpenAPI 3.0 cannot mark a referenced schema nullable.
  @ApiProperty({
    description: 'The saved card refills charge (display fields only); null until a checkout saved one',
    type: 'object',
    nullable: true,
    required: ['brand', 'last4', 'exp_month', 'exp_year'],
    properties: {
      brand: { type: 'string', nullable: true, description: 'Card brand', example: 'visa' },
      last4: { type: 'string', nullable: true, description: 'Last four digits', example: '4242' },
      exp_month: { type: 'integer', nullable: true, description: 'Expiry month (1-12)', example: 12 },
      exp_year: { type: 'integer', nullable: true, description: 'Expiry year', example: 2030 },
    },
  })
  payment_method!: SavedPaymentMethod | null;

  @ApiProperty({
    description: 'Refills this calendar month (UTC) that succeeded or are in progress',
    type: 'integer',
    example: 0,
  })
  refills_this_month!: number;

  @ApiProperty({
    description:
      'Why the last refill failed (auto-refill was then turned off); cleared by enabling auto-refill again or saving a new card',
    type: 'object',
    nullable: true,
    required: ['at', 'code', 'message'],
    properties: {
      at: { type: 'string', format: 'date-time', description: 'When it failed (ISO 8601)' },
      code: {
        type: 'string',
        description:
          "The payment provider's reason: `card_declined`, `insufficient_funds`, `expired_card`, `authentication_required`, …",
        example: 'insufficient_funds',
      },
      message: {
        type: 'string',
        description: "The payment provider's message",
        example: 'Your card has insufficient funds.',
      },
    },
  })
  last_failure!: AutoRefillFailure | null;
}
