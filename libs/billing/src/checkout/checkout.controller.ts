import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentOrg, CurrentPrincipal, OrgContext, OrgRole, Principal } from '@credits/auth';
import { ApiErrorResponses, COMMON_ERROR_TYPES } from '@credits/errors';
import { Idempotent } from '../idempotency/idempotency-key.decorator';
import type { IdempotentResult } from '../idempotency/idempotency.service';
import { CheckoutSessionResponse, CreateCheckoutSessionRequest } from './checkout.dto';
import { CheckoutService } from './checkout.service';

@ApiTags('credits')
@Controller('api/v1/org/:org/credits')
export class CheckoutController {
  constructor(private readonly checkout: CheckoutService) {}

  @Post('checkout')
  @HttpCode(200)
  @OrgRole('admin', 'credits:purchase', { budget: 'checkout' })
  @ApiOperation({
    summary: 'Create checkout session',
    description: 'Create a Stripe Checkout session to purchase credits',
  })
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
  createCheckoutSession(
    @CurrentOrg() org: OrgContext,
    @CurrentPrincipal() principal: Principal,
    @Body() request: CreateCheckoutSessionRequest,
    @Idempotent() idempotencyKey: string | undefined,
  ): Promise<IdempotentResult<CheckoutSessionResponse>> {
    return this.checkout.create(org, principal, request, idempotencyKey);
  }
}
