import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentOrg, OrgContext, OrgRole } from '@credits/auth';
import { ApiErrorResponses, COMMON_ERROR_TYPES } from '@credits/errors';
import { Idempotent } from '../idempotency/idempotency-key.decorator';
import type { IdempotentResult } from '../idempotency/idempotency.service';
import {
  RecordUsageBatchRequest,
  RecordUsageBatchResponse,
  RecordUsageRequest,
  RecordUsageResponse,
} from './usage.dto';
import { UsageService } from './usage.service';

const USAGE_KEY_DESCRIPTION =
  "Required: the host's usage id. Unique per org (whoever sends it) for 30 days: the same key with the same body " +
  'answers the first result again (with `Idempotent-Replayed: true`) without debiting twice; with another body, 409. ' +
  '1–255 printable characters.';

const BODY_ERRORS = ['invalid_request_error', 'payload_too_large_error', 'unsupported_media_type_error'] as const;

@ApiTags('credits')
@Controller('api/v1/org/:org/credits/usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Post()
  @HttpCode(200)
  @OrgRole('member', 'credits:spend', { budget: 'usage' })
  @ApiOperation({
    summary: 'Record usage',
    description:
      'Debit credits now for usage, exactly once per `Idempotency-Key`. A debit larger than the available balance ' +
      '(balance minus active holds) is 402 with nothing written, unless `allow_partial` debits what is available.',
  })
  @ApiBody({ type: RecordUsageRequest, required: true })
  @ApiOkResponse({ description: 'Successful Response', type: RecordUsageResponse })
  @ApiErrorResponses(
    'insufficient_credits_error',
    'conflict_error',
    'validation_error',
    ...BODY_ERRORS,
    ...COMMON_ERROR_TYPES,
  )
  recordUsage(
    @CurrentOrg() org: OrgContext,
    @Body() request: RecordUsageRequest,
    @Idempotent({ required: true, description: USAGE_KEY_DESCRIPTION }) idempotencyKey: string,
  ): Promise<IdempotentResult<RecordUsageResponse>> {
    return this.usage.record(org.id, request, idempotencyKey);
  }

  @Post('batch')
  @HttpCode(200)
  @OrgRole('member', 'credits:spend', { budget: 'usage' })
  @ApiOperation({
    summary: 'Record usage in a batch',
    description:
      'Up to 500 debits applied in order, each on its own with its own `idempotency_key` (the same key space as ' +
      'single debits). A key used twice in one batch is a `duplicate` (same fields) or a `conflict` (other fields) ' +
      'of its first use.',
  })
  @ApiBody({ type: RecordUsageBatchRequest, required: true })
  @ApiOkResponse({ description: 'Successful Response', type: RecordUsageBatchResponse })
  @ApiErrorResponses('validation_error', ...BODY_ERRORS, ...COMMON_ERROR_TYPES)
  recordUsageBatch(
    @CurrentOrg() org: OrgContext,
    @Body() request: RecordUsageBatchRequest,
  ): Promise<RecordUsageBatchResponse> {
    return this.usage.recordBatch(org.id, request);
  }
}
