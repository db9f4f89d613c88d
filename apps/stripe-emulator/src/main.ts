import { DEFAULT_PORT, DEFAULT_WEBHOOK_SECRET, startStripeEmulator } from './emulator';
import { BindRefusedError } from './loopback';

/** `node dist/apps/stripe-emulator/src/main.js` — the emulator as a process, configured from the environment. */
async function main(): Promise<void> {
  const env = process.env;
  const rawPort = env.STRIPE_EMULATOR_PORT ?? String(DEFAULT_PORT);
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || port > 65535) {
    process.stderr.write(`stripe-emulator: invalid STRIPE_EMULATOR_PORT "${rawPort}"\n`);
    process.exit(1);
  }
  const webhookUrl = env.STRIPE_WEBHOOK_URL ?? 'http://127.0.0.1:3000/api/v1/stripe/webhook';
  let emulator;
  try {
    emulator = await startStripeEmulator({
      port,
      host: env.STRIPE_EMULATOR_HOST || '127.0.0.1',
      allowRemote: env.STRIPE_EMULATOR_ALLOW_REMOTE === 'true',
      webhookUrl,
      webhookSecret: env.STRIPE_WEBHOOK_SECRET || DEFAULT_WEBHOOK_SECRET,
      publicUrl: env.STRIPE_EMULATOR_PUBLIC_URL || undefined,
    });
  } catch (err) {
    const message = err instanceof BindRefusedError || err instanceof Error ? err.message : String(err);
    process.stderr.write(`stripe-emulator: ${message}\n`);
    process.exit(1);
  }
  process.stdout.write(`stripe-emulator listening on ${emulator.url} (webhooks -> ${webhookUrl || 'none'})\n`);
  const stop = (signal: string): void => {
    process.stdout.write(`stripe-emulator: ${signal}, closing\n`);
    void emulator.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

void main();
