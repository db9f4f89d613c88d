import { randomUUID } from 'node:crypto';
import type { LoadSpec } from './load';

export const SUCCESS_URL = 'http://localhost:3000/billing/success?session_id={CHECKOUT_SESSION_ID}';
export const CANCEL_URL = 'http://localhost:3000/billing/cancel';
export const CHECKOUT_BODY = JSON.stringify({ success_url: SUCCESS_URL, cancel_url: CANCEL_URL, quantity: 2 });
/** One bundle over the maximum: the API's 422. */
export const INVALID_BODY = JSON.stringify({ success_url: SUCCESS_URL, cancel_url: CANCEL_URL, quantity: 11 });

/** The API's credits routes of an org: `GET` is the balance, `/checkout` buys. */
export function creditsPath(orgSlug: string): string {
  return `/api/v1/org/${orgSlug}/credits`;
}

export function authHeaders(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

export async function post(
  base: string,
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, text: await res.text() };
}

/** Checkouts of two bundles, each with a fresh `Idempotency-Key`, as distinct purchases are. */
export function checkoutLoad(url: string, path: string, key: string): LoadSpec {
  const headers = { ...authHeaders(key), 'content-type': 'application/json' };
  return {
    url,
    expect: [200],
    requests: [
      {
        method: 'POST',
        path,
        body: CHECKOUT_BODY,
        setupRequest: (request) => ({ ...request, headers: { ...headers, 'idempotency-key': randomUUID() } }),
      },
    ],
  };
}
