import { Router } from '../router';
import {
  createCheckoutSession,
  expireCheckoutSession,
  listCheckoutSessions,
  listSessionLineItems,
  retrieveCheckoutSession,
} from './checkout';
import { createCustomer, listCustomers, retrieveCustomer, updateCustomer } from './customers';
import {
  createRefund,
  listEvents,
  listRefunds,
  retrieveCharge,
  retrieveEvent,
  retrievePaymentIntent,
  retrieveRefund,
} from './payments';
import { cancelPaymentIntent, confirmPaymentIntent, createPaymentIntent, listPaymentIntents } from './payment-intents';
import {
  attachPaymentMethodRoute,
  detachPaymentMethod,
  listCustomerPaymentMethods,
  listPaymentMethods,
  retrievePaymentMethod,
} from './payment-methods';
import { createPrice, createProduct, listPrices, retrievePrice, retrieveProduct } from './prices';

/** The Stripe API subset the emulator answers (see README); anything else is Stripe's 404. */
export const apiRoutes = new Router()
  .post('/v1/customers', createCustomer)
  .get('/v1/customers', listCustomers)
  .post('/v1/customers/:id', updateCustomer)
  .get('/v1/customers/:id', retrieveCustomer)
  .get('/v1/customers/:id/payment_methods', listCustomerPaymentMethods)
  .get('/v1/payment_methods', listPaymentMethods)
  .get('/v1/payment_methods/:id', retrievePaymentMethod)
  .post('/v1/payment_methods/:id/attach', attachPaymentMethodRoute)
  .post('/v1/payment_methods/:id/detach', detachPaymentMethod)
  .post('/v1/products', createProduct)
  .get('/v1/products/:id', retrieveProduct)
  .post('/v1/prices', createPrice)
  .get('/v1/prices', listPrices)
  .get('/v1/prices/:id', retrievePrice)
  .post('/v1/checkout/sessions', createCheckoutSession)
  .get('/v1/checkout/sessions', listCheckoutSessions)
  .get('/v1/checkout/sessions/:id', retrieveCheckoutSession)
  .get('/v1/checkout/sessions/:id/line_items', listSessionLineItems)
  .post('/v1/checkout/sessions/:id/expire', expireCheckoutSession)
  .post('/v1/payment_intents', createPaymentIntent)
  .get('/v1/payment_intents', listPaymentIntents)
  .get('/v1/payment_intents/:id', retrievePaymentIntent)
  .post('/v1/payment_intents/:id/confirm', confirmPaymentIntent)
  .post('/v1/payment_intents/:id/cancel', cancelPaymentIntent)
  .get('/v1/charges/:id', retrieveCharge)
  .get('/v1/refunds/:id', retrieveRefund)
  .get('/v1/refunds', listRefunds)
  .post('/v1/refunds', createRefund)
  .get('/v1/events/:id', retrieveEvent)
  .get('/v1/events', listEvents);
