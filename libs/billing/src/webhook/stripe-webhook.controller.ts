import { Controller, Headers, HttpCode, Post, Req } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { RawBodyRequest } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { StripeSignature } from '@credits/auth';
import { AcceptsLargeBody, ApiErrorResponses } from '@credits/errors';
import { StripeWebhookService } from './stripe-webhook.service';

class WebhookReceipt {
  @ApiProperty({ example: true })
  received!: boolean;

  @ApiProperty({ enum: ['processed', 'duplicate', 'ignored', 'failed_permanently'], example: 'processed' })
  outcome!: string;
}

@ApiTags('stripe')
@Controller('api/v1/stripe')
export class StripeWebhookController {
  constructor(private readonly webhooks: StripeWebhookService) {}

  @Post('webhook')
  @HttpCode(200)
  @AcceptsLargeBody()
  @StripeSignature()
  @ApiOperation({
    summary: 'Receive Stripe events',
    description:
      'Stripe calls this endpoint; it is authenticated by the `Stripe-Signature` header only. ' +
      'Answers 2xx once the event is durably handled (or recorded as not applicable), 5xx on a transient failure so Stripe retries.',
  })
  @ApiBody({
    description: 'A Stripe event, byte for byte as Stripe sent it (the signature covers the raw body)',
    schema: {
      type: 'object',
      required: ['id', 'type', 'data'],
      properties: {
        id: { type: 'string', example: 'evt_1NG8Du2eZvKYlo2CUI79vXWy' },
        type: { type: 'string', example: 'checkout.session.completed' },
        data: { type: 'object', description: "Holds the event's `object`", additionalProperties: true },
      },
      additionalProperties: true,
    },
  })
  @ApiOkResponse({ description: 'Successful Response', type: WebhookReceipt })
  @ApiErrorResponses(
    'invalid_request_error',
    'invalid_signature_error',
    'payload_too_large_error',
    'unsupported_media_type_error',
    'rate_limit_error',
    'internal_error',
    // Reading a session back from Stripe (one we have no record of) can fail; Stripe retries.
    'configuration_error',
    'payment_provider_error',
    'service_unavailable_error',
    'gateway_timeout_error',
  )
  async receiveStripeEvent(
    @Req() request: RawBodyRequest<FastifyRequest>,
    @Headers('stripe-signature') signature: string | undefined,
  ): Promise<WebhookReceipt> {
    return { received: true, outcome: await this.webhooks.receive(request.rawBody, signature) };
  }
}
