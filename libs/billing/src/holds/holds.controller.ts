import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { CurrentOrg, CurrentPrincipal, OrgContext, OrgRole, Principal } from '@credits/auth';
import { ApiErrorResponses, COMMON_ERROR_TYPES } from '@credits/errors';
import { Idempotent } from '../idempotency/idempotency-key.decorator';
import type { IdempotentResult } from '../idempotency/idempotency.service';
import {
  CaptureCreditHoldRequest,
  CapturedCreditHold,
  CreateCreditHoldRequest,
  CreditHold,
  CreditHoldPage,
  ListHoldsQuery,
  ReleasedCreditHold,
} from './holds.dto';
import { HoldsService } from './holds.service';
import { OptionalBody } from './optional-body';

/** Writes count against the write budget, not the read one (which reads share). */
const WRITES = { budget: 'usage' } as const;
const HOLD_ID = ApiParam({ name: 'id', description: 'Hold id', format: 'uuid' });
const BODY_ERRORS = ['validation_error', 'payload_too_large_error', 'unsupported_media_type_error'] as const;

/**
 * Holds, for the host backend: reads take `credits:read`, writes `credits:spend` (a host's
 * service key carries both, as DESIGN's example makes it).
 */
@ApiTags('credits')
@Controller('api/v1/org/:org/credits/holds')
export class HoldsController {
  constructor(private readonly holds: HoldsService) {}

  @Post()
  @HttpCode(201)
  @OrgRole('member', 'credits:spend', WRITES)
  @ApiOperation({
    summary: 'Create credit hold',
    description:
      'Reserve credits for up to `expires_in` seconds: they no longer count in the available balance until the hold ' +
      'is captured, released or expires. More than the available balance is 402 `insufficient_credits_error`, ' +
      'and nothing is held.',
  })
  @ApiBody({ type: CreateCreditHoldRequest, required: true })
  @ApiCreatedResponse({ description: 'Successful Response', type: CreditHold })
  @ApiErrorResponses('insufficient_credits_error', 'invalid_request_error', ...BODY_ERRORS, ...COMMON_ERROR_TYPES)
  createCreditHold(
    @CurrentOrg() org: OrgContext,
    @CurrentPrincipal() principal: Principal,
    @Body() request: CreateCreditHoldRequest,
    @Idempotent({ required: true }) idempotencyKey: string,
  ): Promise<IdempotentResult<CreditHold>> {
    return this.holds.create(org, principal, request, idempotencyKey);
  }

  @Get()
  @OrgRole('member', 'credits:read')
  @ApiOperation({
    summary: 'List credit holds',
    description: "The organization's holds, newest first, cursor-paginated.",
  })
  @ApiOkResponse({ description: 'Successful Response', type: CreditHoldPage })
  @ApiErrorResponses('validation_error', ...COMMON_ERROR_TYPES)
  listCreditHolds(@CurrentOrg() org: OrgContext, @Query() query: ListHoldsQuery): Promise<CreditHoldPage> {
    return this.holds.list(org.id, query);
  }

  @Get(':id')
  @OrgRole('member', 'credits:read')
  @HOLD_ID
  @ApiOperation({ summary: 'Get credit hold', description: 'One hold. A hold of another organization is 404.' })
  @ApiOkResponse({ description: 'Successful Response', type: CreditHold })
  @ApiErrorResponses(...COMMON_ERROR_TYPES)
  getCreditHold(@CurrentOrg() org: OrgContext, @Param('id') id: string): Promise<CreditHold> {
    return this.holds.get(org.id, id);
  }

  @Post(':id/capture')
  @HttpCode(200)
  @OrgRole('member', 'credits:spend', WRITES)
  @HOLD_ID
  @ApiOperation({
    summary: 'Capture credit hold',
    description:
      'Spend `amount` of the held credits (default: all) as one `usage` entry; the rest is released. More than held ' +
      'is 422; a hold already captured, released or expired is 409 `conflict_error`.',
  })
  @OptionalBody(CaptureCreditHoldRequest)
  @ApiOkResponse({ description: 'Successful Response', type: CapturedCreditHold })
  @ApiErrorResponses(
    'conflict_error',
    'insufficient_credits_error',
    'invalid_request_error',
    ...BODY_ERRORS,
    ...COMMON_ERROR_TYPES,
  )
  captureCreditHold(
    @CurrentOrg() org: OrgContext,
    @Param('id') id: string,
    @Body() request: CaptureCreditHoldRequest,
  ): Promise<CapturedCreditHold> {
    return this.holds.capture(org.id, id, request);
  }

  @Post(':id/release')
  @HttpCode(200)
  @OrgRole('member', 'credits:spend', WRITES)
  @HOLD_ID
  @ApiOperation({
    summary: 'Release credit hold',
    description:
      'Give the held credits back to the available balance. Releasing a released hold answers it again; a hold ' +
      'captured or expired is 409 `conflict_error`.',
  })
  @ApiOkResponse({ description: 'Successful Response', type: ReleasedCreditHold })
  @ApiErrorResponses('conflict_error', ...COMMON_ERROR_TYPES)
  releaseCreditHold(@CurrentOrg() org: OrgContext, @Param('id') id: string): Promise<ReleasedCreditHold> {
    return this.holds.release(org.id, id);
  }
}
