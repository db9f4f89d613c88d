import type { Store } from './store';
import type { FormObject } from './stripe-api/form-encoding';
import type { WebhookDispatcher } from './webhooks/webhook-dispatcher';

/** The Stripe API version used for events when a request did not name one (the SDK's pinned version). */
export const DEFAULT_API_VERSION = '2026-10-28.endive';

export interface Context {
  store: Store;
  webhooks: WebhookDispatcher;
  publicUrl: string;
}

export interface ApiRequest {
  method: string;
  path: string;
  params: FormObject;
  apiVersion: string;
}

export interface ApiResult {
  status: number;
  body: unknown;
}

/** The `:name` segments of a route's path, as received (`/v1/customers/:id` → `{ id }`). */
export type PathParams = Record<string, string>;

export type ApiHandler = (ctx: Context, req: ApiRequest, path: PathParams) => ApiResult;

export function ok(body: unknown): ApiResult {
  return { status: 200, body };
}
