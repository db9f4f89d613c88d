import { Injectable, Logger } from '@nestjs/common';
import { and, eq, sql } from 'drizzle-orm';
import {
  API_KEY_SCOPES,
  apiKeyOrgs,
  ApiKeyScope,
  apiKeys,
  Db,
  InjectDb,
  memberships,
  organizations,
  users,
} from '@credits/database';
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
  // Null on a service key (left join: it belongs to no user).
  userId: users.id,
  email: users.email,
  serviceName: apiKeys.serviceName,
  scopes: apiKeys.scopes,
};

interface KeyRow {
  id: string;
  keyHash: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  userId: string | null;
  email: string | null;
  serviceName: string | null;
  scopes: ApiKeyScope[] | null;
}

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
      .leftJoin(users, eq(users.id, apiKeys.userId))
      .where(eq(apiKeys.prefix, sql.placeholder('prefix')))
      .limit(1)
      .prepare('api_key_by_prefix');
    // The key and the caller's access to `{org}` in one round trip. A user key: the same rows
    // DatabaseOrgDirectory.findMemberOrg reads, no role when the org is unknown or the user is
    // not a member. A service key: whether it is limited to some orgs, and whether `{org}` is
    // one of them (both primary-key probes of api_key_orgs).
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
        // Probed for service keys only (CASE guarantees it): a user key pays nothing for them.
        orgLimited: sql<boolean>`case when ${apiKeys.serviceName} is null then false else exists (
          select 1 from ${apiKeyOrgs} where ${apiKeyOrgs.apiKeyId} = ${apiKeys.id}) end`,
        orgListed: sql<boolean>`case when ${apiKeys.serviceName} is null then false else exists (
          select 1 from ${apiKeyOrgs}
          where ${apiKeyOrgs.apiKeyId} = ${apiKeys.id} and ${apiKeyOrgs.orgId} = ${organizations.id}) end`,
      })
      .from(apiKeys)
      .leftJoin(users, eq(users.id, apiKeys.userId))
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
   * `verify`, plus the org with this slug as the caller may act on it, read in the same query:
   * a user key's membership (undefined: unknown org or not a member); for a service key the
   * org with no role (undefined: unknown org, or the key is limited to other orgs).
   */
  async verifyWithOrg(token: string, slug: string): Promise<{ principal: Principal; org: OrgContext | undefined }> {
    if (!SLUG_PATTERN.test(slug)) return { principal: await this.verify(token), org: undefined };
    const prefix = apiKeyPrefix(token);
    if (!prefix) throw new AuthenticationError('Invalid API key');
    const [row] = await this.byPrefixWithOrg.execute({ prefix, slug });
    const principal = this.check(token, row);
    const found = row?.org?.id ? row.org : undefined;
    let org: OrgContext | undefined;
    if (found && principal.kind === 'service') {
      org = !row.orgLimited || row.orgListed ? { ...(found as OrgContext), role: null } : undefined;
    } else if (found?.role) {
      org = found as OrgContext;
    }
    return { principal, org };
  }

  private check(token: string, row: KeyRow | undefined): Principal {
    if (!row || !sameHash(row.keyHash, hashApiKey(token))) throw new AuthenticationError('Invalid API key');
    if (row.revokedAt) throw new AuthenticationError('API key has been revoked');
    if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) throw new ExpiredTokenError('API key has expired');
    this.touch(row.id);
    if (row.serviceName !== null) {
      return {
        kind: 'service',
        serviceName: row.serviceName,
        via: 'api_key',
        apiKeyId: row.id,
        callerId: row.id,
        scopes: knownScopes(row.scopes) ?? [],
      };
    }
    // The schema's check: a key without a service name has a user, and the join found them.
    if (row.userId === null || row.email === null) throw new AuthenticationError('Invalid API key');
    return {
      kind: 'user',
      userId: row.userId,
      email: row.email,
      via: 'api_key',
      apiKeyId: row.id,
      callerId: row.userId,
      scopes: knownScopes(row.scopes),
    };
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

/** The key's scopes this version knows; a name it does not know grants nothing. */
function knownScopes(scopes: string[] | null): ApiKeyScope[] | null {
  return scopes === null ? null : API_KEY_SCOPES.filter((scope) => scopes.includes(scope));
}
