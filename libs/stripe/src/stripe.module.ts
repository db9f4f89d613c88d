import { Global, Module } from '@nestjs/common';
import { StripeGateway } from './stripe.gateway';
import { stripeClientProvider } from './stripe.provider';

/** Provides `StripeGateway` only: the SDK client is not injectable elsewhere, so nothing else calls Stripe. */
@Global()
@Module({ providers: [stripeClientProvider, StripeGateway], exports: [StripeGateway] })
export class StripeModule {}
