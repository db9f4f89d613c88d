import createClient, { mergeHeaders, type Client, type ClientOptions } from 'openapi-fetch';
import type { components, operations, paths } from './schema';

export type { components, operations, paths };
export type Schemas = components['schemas'];
/** The body of every non-2xx answer: `{code, detail, errors, type}`. */
export type APIErrorPayload = Schemas['APIErrorPayload'];
export type APIErrorType = Schemas['APIErrorType'];
export type CreditsClient = Client<paths>;

export interface CreditsClientOptions extends ClientOptions {
  /** Where the service runs, e.g. `https://credits.example.com` (the paths carry `/api/v1`). */
  baseUrl: string;
  /** An API key (`ck_…`) or a JWT, sent as `Authorization: Bearer <token>` on every request. */
  token: string;
}

/**
 * A typed client for credits-api: every path, parameter, body and answer is checked against
 * `schema.d.ts`, generated from `openapi.json` (`npm run client:generate`).
 */
export function createCreditsClient({ token, headers, ...options }: CreditsClientOptions): CreditsClient {
  return createClient<paths>({ ...options, headers: mergeHeaders(headers, { Authorization: `Bearer ${token}` }) });
}
