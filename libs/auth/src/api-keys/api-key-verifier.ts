import { Injectable, Logger } from '@nestjs/common';
import { and, eq, sql } from 'drizzle-orm';
import { apiKeys, Db, InjectDb, memberships, organizations, users } from '@credits/database';
import { AuthenticationError, ExpiredTokenError } from '@credits/errors';
import type { OrgContext, Principal } from '@credits/identity';
import { SLUG_PATTERN } from '../directory/database-org-directory';
import { apiKeyPrefix, hashApiKey, sameHash } from './api-key-format';

/** `last_used_at` is refreshed at most this often per key, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

const keyColumns = {
  id: apiKeys.id,
  keyHash: apiKeys.keyHash,
  expiresAt: apiKeys.expiresAt,
  revokedAt: apiKeys.revokedAt,
  userId: users.id,
  email: users.email,
};

@Injectable()
export class ApiKeyVerifier {
  private readonly logger = new Logger(ApiKeyVerifier.name);
  private readonly lastUsedWrites = new Map<string, number>();
  // Built once: the hot path only binds parameters (and PostgreSQL reuses the parsed statement).
  private readonly byPrefix;
  private readonly byPrefixWithOrg;

  constructor(@InjectDb() private readonly db: Db) {
    this.byPrefix = db
      .select(keyColumns)
      .from(apiKeys)
      .innerJoin(users, eq(users.id, apiKeys.userId))
      .where(eq(apiKeys.prefix, sql.placeholder('prefix')))
      .limit(1)
      .prepare('api_key_by_prefix');
    // The key and the caller's membership of `{org}` in one round trip: the same rows
    // DatabaseOrgDirectory.findMemberOrg reads, null when the org is unknown or the
    // caller is not a member of it.
    this.byPrefixWithOrg = db
      .select({
        ...keyColumns,
        org: {
          id: organizations.id,
          slug: organizations.slug,
          name: organizations.name,
          stripeCustomerId: organizations.stripeCustomerId,
          role: memberships.role,
        },
      })
      .from(apiKeys)
      .innerJoin(users, eq(users.id, apiKeys.userId))
      .leftJoin(organizations, eq(organizations.slug, sql.placeholder('slug')))
      .leftJoin(memberships, and(eq(memberships.orgId, organizations.id), eq(memberships.userId, users.id)))
      .where(eq(apiKeys.prefix, sql.placeholder('prefix')))
      .limit(1)
      .prepare('api_key_by_prefix_with_org');
  }

  async verify(token: string): Promise<Principal> {
    const prefix = apiKeyPrefix(token);
    if (!prefix) throw new AuthenticationError('Invalid API key');
    const [row] = await this.byPrefix.execute({ prefix });
    return this.check(token, row);
  }

  /**
   * `verify`, plus the caller's membership of the org with this slug (undefined: unknown
   * org or not a member), read in the same query.
   */
  async verifyWithOrg(token: string, slug: string): Promise<{ principal: Principal; org: OrgContext | undefined }> {
    if (!SLUG_PATTERN.test(slug)) return { principal: await this.verify(token), org: undefined };
    const prefix = apiKeyPrefix(token);
    if (!prefix) throw new AuthenticationError('Invalid API key');
    const [row] = await this.byPrefixWithOrg.execute({ prefix, slug });
    const principal = this.check(token, row);
    const org = row?.org?.id && row.org.role ? (row.org as OrgContext) : undefined;
    return { principal, org };
  }

  private check(
    token: string,
    row:
      | { id: string; keyHash: string; expiresAt: Date | null; revokedAt: Date | null; userId: string; email: string }
      | undefined,
  ): Principal {
    if (!row || !sameHash(row.keyHash, hashApiKey(token))) throw new AuthenticationError('Invalid API key');
    if (row.revokedAt) throw new AuthenticationError('API key has been revoked');
    if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) throw new ExpiredTokenError('API key has expired');
    this.touch(row.id);
    return { userId: row.userId, email: row.email, via: 'api_key', apiKeyId: row.id };
  }

  /** Best effort: a failed bookkeeping write must not fail the request. */
  private touch(keyId: string): void {
    const now = Date.now();
    if (now - (this.lastUsedWrites.get(keyId) ?? 0) < LAST_USED_RESOLUTION_MS) return;
    this.lastUsedWrites.set(keyId, now);
    if (this.lastUsedWrites.size > 10_000) this.lastUsedWrites.clear();
    this.db
      .update(apiKeys)
      .set({ lastUsedAt: new Date(now) })
      .where(eq(apiKeys.id, keyId))
      .catch((err: unknown) => this.logger.warn({ msg: 'could not record API key use', err }));
  }
}
