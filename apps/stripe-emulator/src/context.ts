import type { FormObject } from './form';
import type { Store } from './store';
import type { WebhookDispatcher } from './webhooks';

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

export type ApiHandler = (ctx: Context, req: ApiRequest, match: RegExpExecArray) => ApiResult;

export interface Route {
  method: string;
  pattern: RegExp;
  handler: ApiHandler;
}

export function ok(body: unknown): ApiResult {
  return { status: 200, body };
}
