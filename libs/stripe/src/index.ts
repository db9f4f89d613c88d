export { mapStripeError } from './stripe-errors';
export { StripeGateway, SIGNATURE_TOLERANCE_SEC, receiptUrlOf } from './stripe.gateway';
export type { OffSessionPayment } from './stripe.gateway';
export { StripeModule } from './stripe.module';
export { createStripeClient, STRIPE_API_VERSION } from './stripe.provider';
