import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentOrg, CurrentPrincipal, OrgContext, OrgRole, Principal } from '@credits/auth';
import { ApiErrorResponses, COMMON_ERROR_TYPES } from '@credits/errors';
import { ApiIdempotencyKeyHeader, IdempotencyKey } from '../idempotency/idempotency-key.decorator';
import { CheckoutSessionResponse, CreateCheckoutSessionRequest } from './checkout.dto';
import { CheckoutService } from './checkout.service';

@ApiTags('credits')
@Controller('api/v1/org/:org/credits')
export class CheckoutController {
  constructor(private readonly checkout: CheckoutService) {}

  @Post('checkout')
  @HttpCode(200)
  @OrgRole('admin', { budget: 'checkout' })
  @ApiOperation({
    summary: 'Create checkout session',
    description: 'Create a Stripe Checkout session to purchase credits',
  })
  @ApiIdempotencyKeyHeader()
  @ApiBody({ type: CreateCheckoutSessionRequest, required: true })
  @ApiOkResponse({ description: 'Successful Response', type: CheckoutSessionResponse })
  @ApiErrorResponses(
    'invalid_request_error',
    'conflict_error',
    'validation_error',
    'payload_too_large_error',
    'unsupported_media_type_error',
    'configuration_error',
    'payment_provider_error',
    'gateway_timeout_error',
    ...COMMON_ERROR_TYPES,
  )
  async createCheckoutSession(
    @CurrentOrg() org: OrgContext,
    @CurrentPrincipal() principal: Principal,
    @Body() request: CreateCheckoutSessionRequest,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CheckoutSessionResponse> {
    const result = await this.checkout.create(org, principal, request, idempotencyKey);
    if (result.replayed) void reply.header('idempotent-replayed', 'true');
    return result.body;
  }
}
