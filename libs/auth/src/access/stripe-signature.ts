import { applyDecorators } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import { ApiErrorResponses } from '@credits/errors';
import { WebhookRateLimit } from '@credits/traffic';
import { ApiNoCredentials, DeclareAccess } from './access-rule';

/**
 * The access rule of Stripe's webhook: no bearer credentials; the caller is Stripe because the
 * `Stripe-Signature` header signs the raw body with the webhook secret. The check itself needs
 * the raw body and the secret, so the webhook's handling runs it (Stripe's `constructEvent`)
 * before it reads anything from the event: 400 `invalid_signature_error` otherwise. Counted
 * against the one webhook budget shared by every sender.
 */
export const StripeSignature = (): MethodDecorator =>
  applyDecorators(
    DeclareAccess({ kind: 'stripe-signature' }),
    WebhookRateLimit(),
    ApiNoCredentials(),
    ApiHeader({ name: 'Stripe-Signature', required: true, description: "Stripe's signature of the raw body" }),
    ApiErrorResponses('invalid_signature_error'),
  );
