import { Controller, Get, Param } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { CurrentOrg, OrgContext, OrgRole } from '@credits/auth';
import { ApiErrorResponses, COMMON_ERROR_TYPES } from '@credits/errors';
import { CheckoutSessionStatusResponse } from './checkout-status.dto';
import { CheckoutStatusService } from './checkout-status.service';

@ApiTags('credits')
@Controller('api/v1/org/:org/credits/checkout')
export class CheckoutStatusController {
  constructor(private readonly checkoutStatus: CheckoutStatusService) {}

  @Get(':session_id')
  @OrgRole('member', 'credits:read')
  @ApiOperation({
    summary: 'Get checkout session',
    description:
      "One purchase's state, for the page Stripe Checkout redirects to on success. When the credits " +
      'are not granted yet, Stripe is asked, and a paid session is granted now (once, whatever the ' +
      "webhook does). Another organization's session is 404, like an unknown one.",
  })
  @ApiParam({ name: 'session_id', description: 'Stripe Checkout session ID', example: 'cs_test_a1b2c3' })
  @ApiOkResponse({ description: 'Successful Response', type: CheckoutSessionStatusResponse })
  @ApiErrorResponses('configuration_error', 'payment_provider_error', 'gateway_timeout_error', ...COMMON_ERROR_TYPES)
  getCheckoutSession(
    @CurrentOrg() org: OrgContext,
    @Param('session_id') sessionId: string,
  ): Promise<CheckoutSessionStatusResponse> {
    return this.checkoutStatus.status(org.id, sessionId);
  }
}
