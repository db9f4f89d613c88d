import { Global, Module } from '@nestjs/common';
import { stripeClientProvider, STRIPE_CLIENT } from './stripe.provider';

@Global()
@Module({ providers: [stripeClientProvider], exports: [STRIPE_CLIENT] })
export class StripeModule {}
