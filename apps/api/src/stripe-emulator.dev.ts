import { Logger } from '@nestjs/common';
import type { AppConfig } from '@credits/config';
import { startStripeEmulator, StripeEmulator } from '../../stripe-emulator/src';

/**
 * Development only: with no STRIPE_SECRET_KEY the API runs the Stripe emulator in its
 * own process, wired to deliver signed webhooks back to this API, so a purchase works
 * end to end on a laptop with no Stripe account.
 */
export async function startDevelopmentEmulator(config: AppConfig): Promise<StripeEmulator> {
  const emulator = await startStripeEmulator({
    port: config.stripe.emulatorPort,
    webhookUrl: `${config.http.publicUrl}/api/v1/stripe/webhook`,
    webhookSecret: config.stripe.webhookSecret,
  });
  new Logger('StripeEmulator').warn({
    msg: `no STRIPE_SECRET_KEY: using the local Stripe emulator at ${emulator.url} (development only)`,
  });
  return emulator;
}
