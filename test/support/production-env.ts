/**
 * The least environment `loadConfig` accepts with NODE_ENV=production: real Stripe keys,
 * a webhook secret, a redirect allow-list and a key for notification secrets.
 */
export const productionEnv: NodeJS.ProcessEnv = {
  NODE_ENV: 'production',
  NOTIFY_ENCRYPTION_KEY: 'a-production-key-of-at-least-32-bytes',
  STRIPE_SECRET_KEY: 'sk_live_abc',
  STRIPE_WEBHOOK_SECRET: 'whsec_abc',
  CHECKOUT_ALLOWED_REDIRECT_HOSTS: 'app.example.com',
};
