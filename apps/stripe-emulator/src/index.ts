export {
  startStripeEmulator,
  DEFAULT_PORT,
  DEFAULT_RETRY_DELAYS_MS,
  DEFAULT_WEBHOOK_SECRET,
  type StripeEmulator,
  type StripeEmulatorOptions,
} from './emulator';
export { isLoopbackHost, assertBindable, BindRefusedError } from './bind';
export { signPayload } from './webhooks';
export { parseForm } from './form';
export { DEFAULT_API_VERSION } from './context';
