import { sql } from 'drizzle-orm';
import type { Db, DbTransaction } from '@credits/database';

/**
 * The one NOTIFY channel on which whatever changes a credential or a membership says so,
 * and every instance's credential cache listens. Its payload is a `CredentialChange` as JSON.
 */
export const CREDENTIALS_CHANNEL = 'credentials_changed';

/**
 * What changed, by id: a cached answer that concerns any id named here is dropped. A key
 * revoked: `{ key }`; a membership added, removed or changed: `{ user, org }`; an org
 * changed: `{ org }`; a user changed: `{ user }`.
 */
export interface CredentialChange {
  key?: string;
  user?: string;
  org?: string;
}

/**
 * Sends the change on `CREDENTIALS_CHANNEL`. Call it inside the transaction that makes the
 * change: PostgreSQL delivers a NOTIFY only when its transaction commits, so no instance
 * hears of a change before it can read it, and a change rolled back is never announced.
 */
export async function announceCredentialChange(db: Db | DbTransaction, change: CredentialChange): Promise<void> {
  await db.execute(sql`select pg_notify(${CREDENTIALS_CHANNEL}, ${JSON.stringify(change)})`);
}

/** A payload as sent by `announceCredentialChange`; undefined when it is not one (then drop everything). */
export function parseCredentialChange(payload: string): CredentialChange | undefined {
  try {
    const parsed = JSON.parse(payload) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const change: CredentialChange = {};
    for (const field of ['key', 'user', 'org'] as const) {
      const value = (parsed as Record<string, unknown>)[field];
      if (value === undefined) continue;
      if (typeof value !== 'string') return undefined;
      change[field] = value;
    }
    return (change.key ?? change.user ?? change.org) ? change : undefined;
  } catch {
    return undefined;
  }
}
