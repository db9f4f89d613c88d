export * from './billing.module';
export * from './checkout/checkout.dto';
export * from './checkout/redirect-url';
export * from './idempotency/idempotency.service';
export * from './credits/credits.dto';
export * from './fulfilment/fulfilment.service';
export * from './ledger/ledger.service';
