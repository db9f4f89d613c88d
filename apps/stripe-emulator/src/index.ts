export {
  startStripeEmulator,
  DEFAULT_PORT,
  DEFAULT_RETRY_DELAYS_MS,
  DEFAULT_WEBHOOK_SECRET,
  type StripeEmulator,
  type StripeEmulatorOptions,
} from './emulator';
export { isLoopbackHost, assertBindable, BindRefusedError } from './loopback';
export { signPayload } from './webhooks/webhook-dispatcher';
export { parseForm } from './stripe-api/form-encoding';
export { DEFAULT_API_VERSION } from './context';
