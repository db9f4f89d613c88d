import type { Charge } from './charges/charge';
import type { CheckoutSession, SessionExtras } from './checkout-sessions/checkout-session';
import type { Customer } from './customers/customer';
import type { PaymentIntent } from './payment-intents/payment-intent';
import type { PaymentMethod } from './payment-methods/payment-method';
import type { Price, Product } from './prices/price';

/**
 * A Map that forgets its oldest entries beyond `max` (insertion order), so a
 * long benchmark run keeps a bounded memory footprint.
 */
export class BoundedMap<V> extends Map<string, V> {
  constructor(private readonly max: number) {
    super();
  }

  override set(key: string, value: V): this {
    if (!this.has(key) && this.size >= this.max) {
      const oldest = this.keys().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    return super.set(key, value);
  }
}

export class Store {
  readonly customers: BoundedMap<Customer>;
  readonly products: BoundedMap<Product>;
  readonly prices: BoundedMap<Price>;
  readonly sessions: BoundedMap<CheckoutSession>;
  readonly sessionExtras: BoundedMap<SessionExtras>;
  readonly paymentIntents: BoundedMap<PaymentIntent>;
  readonly charges: BoundedMap<Charge>;
  /** payment intent id -> checkout session id */
  readonly sessionByPaymentIntent: BoundedMap<string>;
  readonly paymentMethods: BoundedMap<PaymentMethod>;
  /** payment method id -> the `pm_card_*` test card it was made from (its outcomes). */
  readonly paymentMethodCards: BoundedMap<string>;
  /** payment intent id -> `Stripe-Version` of the request that created it (for its events). */
  readonly apiVersions: BoundedMap<string>;

  constructor(maxObjects: number) {
    this.customers = new BoundedMap(maxObjects);
    this.products = new BoundedMap(maxObjects);
    this.prices = new BoundedMap(maxObjects);
    this.sessions = new BoundedMap(maxObjects);
    this.sessionExtras = new BoundedMap(maxObjects);
    this.paymentIntents = new BoundedMap(maxObjects);
    this.charges = new BoundedMap(maxObjects);
    this.sessionByPaymentIntent = new BoundedMap(maxObjects);
    this.paymentMethods = new BoundedMap(maxObjects);
    this.paymentMethodCards = new BoundedMap(maxObjects);
    this.apiVersions = new BoundedMap(maxObjects);
  }

  clear(): void {
    this.customers.clear();
    this.products.clear();
    this.prices.clear();
    this.sessions.clear();
    this.sessionExtras.clear();
    this.paymentIntents.clear();
    this.charges.clear();
    this.sessionByPaymentIntent.clear();
    this.paymentMethods.clear();
    this.paymentMethodCards.clear();
    this.apiVersions.clear();
  }

  /** Finds any stored object by its id prefix (used by `expand`). */
  byId(id: string): unknown {
    if (id.startsWith('cus_')) return this.customers.get(id);
    if (id.startsWith('cs_')) return this.sessions.get(id);
    if (id.startsWith('pi_')) return this.paymentIntents.get(id);
    if (id.startsWith('ch_')) return this.charges.get(id);
    if (id.startsWith('price_')) return this.prices.get(id);
    if (id.startsWith('prod_')) return this.products.get(id);
    if (id.startsWith('pm_')) return this.paymentMethods.get(id);
    return undefined;
  }

  sessionForPaymentIntent(paymentIntentId: string): CheckoutSession | undefined {
    const id = this.sessionByPaymentIntent.get(paymentIntentId);
    return id ? this.sessions.get(id) : undefined;
  }
}
