export * from './stripe-errors';
export * from './stripe.module';
export * from './stripe.provider';
