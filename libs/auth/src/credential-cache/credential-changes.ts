import { type Db, type DbTransaction, notifyChannel } from '@credits/database';

/**
 * The one NOTIFY channel on which whatever changes a credential or a membership says so,
 * and every instance's credential cache listens. Its payload is a `CredentialChange` as JSON.
 */
export const CREDENTIALS_CHANNEL = 'credentials_changed';

/**
 * What changed, by id: a cached answer that concerns any id named here is dropped. A key
 * revoked: `{ key }`; a membership added, removed or changed: `{ user, org }`; an org
 * changed: `{ org }`; a user changed: `{ user }`; an org created: `{ slug }` (answers that
 * found no org by that slug).
 */
export interface CredentialChange {
  key?: string;
  user?: string;
  org?: string;
  slug?: string;
}

/**
 * What goes on the channel: a change, or a listener's own probe (`{ probe }`), sent through
 * the pool to prove that what is committed there reaches the LISTEN connection.
 */
export type CredentialMessage = { change: CredentialChange } | { probe: string };

/**
 * Sends the change on `CREDENTIALS_CHANNEL`. Call it inside the transaction that makes the
 * change: PostgreSQL delivers a NOTIFY only when its transaction commits, so no instance
 * hears of a change before it can read it, and a change rolled back is never announced.
 */
export async function announceCredentialChange(db: Db | DbTransaction, change: CredentialChange): Promise<void> {
  await notifyChannel(db, CREDENTIALS_CHANNEL, JSON.stringify(change));
}

/** Sends a listener's probe on `CREDENTIALS_CHANNEL` (see `CredentialMessage`). */
export async function sendCredentialProbe(db: Db, probe: string): Promise<void> {
  await notifyChannel(db, CREDENTIALS_CHANNEL, JSON.stringify({ probe }));
}

/**
 * A payload as sent by `announceCredentialChange` or `sendCredentialProbe`; undefined when it
 * is neither (then drop everything).
 */
export function parseCredentialMessage(payload: string): CredentialMessage | undefined {
  try {
    const parsed = JSON.parse(payload) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const probe = (parsed as Record<string, unknown>).probe;
    if (probe !== undefined) return typeof probe === 'string' ? { probe } : undefined;
    const change: CredentialChange = {};
    for (const field of ['key', 'user', 'org', 'slug'] as const) {
      const value = (parsed as Record<string, unknown>)[field];
      if (value === undefined) continue;
      if (typeof value !== 'string') return undefined;
      change[field] = value;
    }
    return (change.key ?? change.user ?? change.org ?? change.slug) ? { change } : undefined;
  } catch {
    return undefined;
  }
}
