import {
  createCheckoutSession,
  listCheckoutSessions,
  retrieveCheckoutSession,
} from '../checkout-sessions/checkout-session-routes';
import { createCustomer, listCustomers, retrieveCustomer, updateCustomer } from '../customers/customer-routes';
import {
  createPaymentIntent,
  listPaymentIntents,
  retrievePaymentIntent,
} from '../payment-intents/payment-intent-routes';
import { retrievePaymentMethod } from '../payment-methods/payment-method-routes';
import { createPrice, listPrices } from '../prices/price-routes';
import { Router } from './router';

/**
 * The Stripe API subset the emulator answers (see README): what `StripeGateway` calls, plus
 * `GET /v1/customers/:id`, `GET /v1/customers` and the prices the tests set up with.
 * Anything else is Stripe's 404.
 */
export const apiRoutes = new Router()
  .post('/v1/customers', createCustomer)
  .get('/v1/customers', listCustomers)
  .post('/v1/customers/:id', updateCustomer)
  .get('/v1/customers/:id', retrieveCustomer)
  .get('/v1/payment_methods/:id', retrievePaymentMethod)
  .post('/v1/prices', createPrice)
  .get('/v1/prices', listPrices)
  .post('/v1/checkout/sessions', createCheckoutSession)
  .get('/v1/checkout/sessions', listCheckoutSessions)
  .get('/v1/checkout/sessions/:id', retrieveCheckoutSession)
  .post('/v1/payment_intents', createPaymentIntent)
  .get('/v1/payment_intents', listPaymentIntents)
  .get('/v1/payment_intents/:id', retrievePaymentIntent);
