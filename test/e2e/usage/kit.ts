import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { LedgerService } from '@credits/billing';
import { Db, organizations } from '@credits/database';
import { DirectoryAdmin } from '@credits/auth';
import { bearer, SPEND } from '../../support/auth';
import { addMember, type HttpResult, type RequestOptions } from '../../support/test-app';

export const usagePath = (org: string) => `/api/v1/org/${org}/credits/usage`;

/** Anything that answers HTTP requests on the app: a TestApp, a Stack or one Instance. */
export interface Requester {
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<HttpResult<T>>;
}

/** A member's key that may spend the org's credits (`credits:spend`, which no role implies). */
export function spender(db: Db, org: string): Promise<string> {
  return addMember(new DirectoryAdmin(db), org, `spender@${org}.test`, 'member', SPEND);
}

/** A host backend's service key, limited to `org`, as DESIGN §1.1 makes them. */
export async function serviceSpender(db: Db, org: string): Promise<string> {
  const created = await new DirectoryAdmin(db).createServiceKey('host-backend', {
    scopes: ['credits:spend', 'credits:read'],
    orgs: [org],
  });
  return created.key;
}

export async function orgId(db: Db, slug: string): Promise<string> {
  const [org] = await db.select({ id: organizations.id }).from(organizations).where(eq(organizations.slug, slug));
  return org.id;
}

/** Adds credits to the org as an operator would (an `admin_adjustment` entry). */
export async function grant(app: NestFastifyApplication, db: Db, slug: string, amount: number): Promise<void> {
  const id = await orgId(db, slug);
  await db.transaction((tx) =>
    app.get(LedgerService).apply(tx, {
      orgId: id,
      amount,
      transactionType: 'admin_adjustment',
      description: 'test grant',
      sourceRef: `admin:${randomUUID()}`,
    }),
  );
}

/** POST /credits/usage with the key, as the host backend does; `idempotencyKey` null sends no header. */
export function debit(
  on: Requester,
  apiKey: string,
  org: string,
  body: unknown,
  idempotencyKey: string | null = randomUUID(),
): Promise<HttpResult> {
  const headers = bearer(apiKey, idempotencyKey === null ? {} : { 'idempotency-key': idempotencyKey });
  return on.request('POST', usagePath(org), { headers, body });
}

export function debitBatch(on: Requester, apiKey: string, org: string, items: unknown[]): Promise<HttpResult> {
  return on.request('POST', `${usagePath(org)}/batch`, { headers: bearer(apiKey), body: { items } });
}

export function credits(on: Requester, apiKey: string, org: string): Promise<HttpResult> {
  return on.request('GET', `/api/v1/org/${org}/credits`, { headers: bearer(apiKey) });
}
