import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsDefined, IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { HOLD_STATUSES, HoldStatus } from '@credits/database';
import { PageSizeQuery } from '@credits/pagination';
import { CreditTransaction } from '../credits/credits.dto';
import { IsMetadata, MAX_CREDITS, MAX_DESCRIPTION_LENGTH, metadataSchema, MIN_CREDITS } from '../spending/spend-fields';

export const MIN_EXPIRES_IN = 1;
export const MAX_EXPIRES_IN = 86_400;
export const DEFAULT_EXPIRES_IN = 900;

const METADATA_SCHEMA = metadataSchema('Your own labels, returned as given', { sandbox_id: 'sbx_42' });

@ApiSchema({ name: 'CreateCreditHoldRequest', description: 'Reserve credits now, to capture or release later.' })
export class CreateCreditHoldRequest {
  @ApiProperty({
    description: 'Credits to reserve (1-1,000,000,000); at most the available balance',
    type: 'integer',
    minimum: MIN_CREDITS,
    maximum: MAX_CREDITS,
    example: 500,
  })
  @IsDefined()
  @IsInt()
  @Min(MIN_CREDITS)
  @Max(MAX_CREDITS)
  amount!: number;

  @ApiPropertyOptional({
    description: 'Seconds until the hold expires and its credits are available again (1-86,400)',
    type: 'integer',
    minimum: MIN_EXPIRES_IN,
    maximum: MAX_EXPIRES_IN,
    default: DEFAULT_EXPIRES_IN,
    example: DEFAULT_EXPIRES_IN,
  })
  @IsInt()
  @Min(MIN_EXPIRES_IN)
  @Max(MAX_EXPIRES_IN)
  expires_in: number = DEFAULT_EXPIRES_IN;

  @ApiPropertyOptional({
    description: 'What the credits are held for; also the description of the usage entry a capture writes',
    type: 'string',
    maxLength: MAX_DESCRIPTION_LENGTH,
    example: 'Sandbox sbx_42, up to 10 minutes',
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

@ApiSchema({ name: 'CaptureCreditHoldRequest', description: 'Spend held credits.' })
export class CaptureCreditHoldRequest {
  @ApiPropertyOptional({
    description: 'Credits to spend, at most the amount held (default: all of it); the rest is released',
    type: 'integer',
    minimum: MIN_CREDITS,
    maximum: MAX_CREDITS,
    example: 320,
  })
  @IsOptional()
  @IsInt()
  @Min(MIN_CREDITS)
  @Max(MAX_CREDITS)
  amount?: number;
}

export class ListHoldsQuery extends PageSizeQuery {
  @ApiPropertyOptional({ description: "Opaque cursor from the previous page's `next_cursor`" })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({
    description: 'Only holds in this status (an active hold past its `expires_at` is `expired`)',
    enum: HOLD_STATUSES,
  })
  @IsOptional()
  @IsIn(HOLD_STATUSES)
  status?: HoldStatus;
}

@ApiSchema({ name: 'CreditHold', description: 'Credits reserved for a while: captured (spent), released, or expired.' })
export class CreditHold {
  @ApiProperty({ description: 'Hold id', format: 'uuid' })
  id!: string;

  @ApiProperty({ description: 'Credits held', type: 'integer', example: 500 })
  amount!: number;

  @ApiProperty({
    description:
      '`active` while it counts against the available balance; `expired` from its `expires_at` on, ' +
      'whether or not it was swept',
    enum: HOLD_STATUSES,
    example: 'active',
  })
  status!: HoldStatus;

  @ApiProperty({
    description: 'Credits spent by the capture; null until captured',
    type: 'integer',
    nullable: true,
    example: null,
  })
  captured_amount!: number | null;

  @ApiProperty({ description: 'What the credits are held for', type: 'string', nullable: true })
  description!: string | null;

  @ApiProperty({ ...METADATA_SCHEMA, nullable: true })
  metadata!: Record<string, string> | null;

  @ApiProperty({ description: 'When the hold was made (ISO 8601)', format: 'date-time' })
  created_at!: string;

  @ApiProperty({
    description: 'When the hold stops counting if not captured or released (ISO 8601)',
    format: 'date-time',
  })
  expires_at!: string;

  @ApiProperty({ description: 'When it was captured (ISO 8601)', type: 'string', format: 'date-time', nullable: true })
  captured_at!: string | null;

  @ApiProperty({ description: 'When it was released (ISO 8601)', type: 'string', format: 'date-time', nullable: true })
  released_at!: string | null;
}

@ApiSchema({ name: 'CreditHoldPage', description: 'A page of holds, newest first.' })
export class CreditHoldPage {
  @ApiProperty({ type: [CreditHold] })
  data!: CreditHold[];

  @ApiProperty({ description: 'Whether more holds follow', example: false })
  has_more!: boolean;

  @ApiProperty({
    description: 'Pass as `cursor` to get the next page; null on the last page',
    nullable: true,
    type: 'string',
  })
  next_cursor!: string | null;
}

@ApiSchema({ name: 'CapturedCreditHold', description: 'The captured hold and the usage entry its capture wrote.' })
export class CapturedCreditHold {
  @ApiProperty({ type: CreditHold })
  hold!: CreditHold;

  @ApiProperty({ type: CreditTransaction })
  transaction!: CreditTransaction;
}

@ApiSchema({ name: 'ReleasedCreditHold', description: 'The released hold.' })
export class ReleasedCreditHold {
  @ApiProperty({ type: CreditHold })
  hold!: CreditHold;
}
