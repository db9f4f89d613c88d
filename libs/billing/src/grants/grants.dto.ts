import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { GRANT_CATEGORIES, GRANT_SOURCES, type GrantCategory, type GrantSource } from '@credits/database';
import { AsList } from '@credits/errors';
import { PageSizeQuery } from '@credits/pagination';
import { GRANT_STATUSES, type GrantStatus } from './grants.repository';

export class ListGrantsQuery extends PageSizeQuery {
  @ApiPropertyOptional({ description: "Opaque cursor from the previous page's `next_cursor`" })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({
    description:
      'Only grants in these statuses (repeat the parameter for several): `active` (credits left, not expired or ' +
      'voided; including one not yet in effect), `expired`, `depleted` (spent), `voided`',
    enum: GRANT_STATUSES,
    isArray: true,
  })
  @AsList()
  @IsOptional()
  @IsIn(GRANT_STATUSES, { each: true })
  status?: GrantStatus[];
}

@ApiSchema({
  name: 'CreditGrant',
  description:
    'Credits as they came in: a purchase, an auto-refill or an operator grant. Debits and holds draw from grants in ' +
    'effect by `priority`, then the soonest `expires_at` (never-expiring last), then promotional before paid, then the oldest.',
})
export class CreditGrant {
  @ApiProperty({ description: 'Grant id', format: 'uuid' })
  id!: string;

  @ApiProperty({ description: 'Credits granted', type: 'integer', example: 500 })
  amount!: number;

  @ApiProperty({
    description: 'Credits left of it, what active holds reserve included; 0 once spent, expired or voided',
    type: 'integer',
    example: 320,
  })
  remaining!: number;

  @ApiProperty({
    description: '`paid` (money came in) or `promotional` (a gift)',
    enum: GRANT_CATEGORIES,
    example: 'promotional',
  })
  category!: GrantCategory;

  @ApiProperty({ description: 'Where it came from', enum: GRANT_SOURCES, example: 'admin' })
  source!: GrantSource;

  @ApiProperty({ description: '0-100; lower is spent first', type: 'integer', minimum: 0, maximum: 100, example: 10 })
  priority!: number;

  @ApiProperty({ description: '`active`, `expired`, `depleted` or `voided`', enum: GRANT_STATUSES, example: 'active' })
  status!: GrantStatus;

  @ApiProperty({ description: 'Spendable from (ISO 8601)', format: 'date-time' })
  effective_at!: string;

  @ApiProperty({
    description: 'Spendable until (ISO 8601); null: never expires',
    format: 'date-time',
    nullable: true,
    type: 'string',
  })
  expires_at!: string | null;

  @ApiProperty({ description: 'When it was voided (ISO 8601)', format: 'date-time', nullable: true, type: 'string' })
  voided_at!: string | null;

  @ApiProperty({ description: 'Why it was granted', nullable: true, type: 'string', example: 'Sign-up bonus' })
  description!: string | null;

  @ApiProperty({
    description: 'Labels given with it',
    nullable: true,
    type: 'object',
    additionalProperties: { type: 'string' },
  })
  metadata!: Record<string, string> | null;

  @ApiProperty({ description: 'The ledger entry that brought it in', format: 'uuid', nullable: true, type: 'string' })
  transaction_id!: string | null;

  @ApiProperty({ description: 'When it was made (ISO 8601)', format: 'date-time' })
  created_at!: string;
}

@ApiSchema({ name: 'CreditGrantPage', description: 'A page of grants, newest first.' })
export class CreditGrantPage {
  @ApiProperty({ type: [CreditGrant] })
  data!: CreditGrant[];

  @ApiProperty({ description: 'Whether more grants follow', example: false })
  has_more!: boolean;

  @ApiProperty({
    description: 'Pass as `cursor` to get the next page; null on the last page',
    nullable: true,
    type: 'string',
  })
  next_cursor!: string | null;
}
