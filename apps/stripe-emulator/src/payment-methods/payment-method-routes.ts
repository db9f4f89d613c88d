import { retrieve } from '../stripe-api/retrieve';

/** `GET /v1/payment_methods/{id}`: what the service reads of a saved card (brand, last4, expiry). */
export const retrievePaymentMethod = retrieve('PaymentMethod', (store) => store.paymentMethods);
