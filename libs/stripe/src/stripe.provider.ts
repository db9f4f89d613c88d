import { Inject, Provider } from '@nestjs/common';
import Stripe from 'stripe';
import { APP_CONFIG, type AppConfig } from '@credits/config';

/**
 * The Stripe API version this service is written against. Pinned so a Stripe-side default
 * change never alters object shapes under us; move it deliberately, with the SDK.
 */
export const STRIPE_API_VERSION = '2026-10-28.endive';

export const STRIPE_CLIENT = Symbol('STRIPE_CLIENT');
export const InjectStripe = (): ParameterDecorator => Inject(STRIPE_CLIENT);

export function createStripeClient(config: AppConfig['stripe']): Stripe {
  const base = config.apiBase;
  return new Stripe(config.secretKey, {
    apiVersion: STRIPE_API_VERSION,
    timeout: config.timeoutMs,
    maxNetworkRetries: config.maxNetworkRetries,
    appInfo: { name: 'credits-api', version: '1.0.0' },
    telemetry: false,
    ...(base && {
      host: base.hostname,
      port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)),
      protocol: base.protocol.replace(':', '') as 'http' | 'https',
    }),
  });
}

export const stripeClientProvider: Provider = {
  provide: STRIPE_CLIENT,
  inject: [APP_CONFIG],
  useFactory: (config: AppConfig) => createStripeClient(config.stripe),
};
