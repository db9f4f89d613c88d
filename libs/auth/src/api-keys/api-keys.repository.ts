import { Injectable } from '@nestjs/common';
import { and, eq, inArray, sql } from 'drizzle-orm';
import {
  apiKeyOrgs,
  type ApiKeyScope,
  apiKeys,
  Db,
  InjectDb,
  memberships,
  organizations,
  users,
} from '@credits/database';

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

/** A key as verification reads it, with its user (none for a service key). */
export interface KeyRow {
  id: string;
  keyHash: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  userId: string | null;
  email: string | null;
  serviceName: string | null;
  scopes: ApiKeyScope[] | null;
}

/** The caller's access to `{org}`, read with the key: see `findByPrefixWithOrg`. */
export interface KeyRowWithOrg extends KeyRow {
  org: { id: string; slug: string; name: string; stripeCustomerId: string | null; role: string | null } | null;
  orgLimited: boolean;
  orgListed: boolean;
}

/** Touches at most this many keys per UPDATE. */
const TOUCH_BATCH = 1_000;

/** The API keys' SQL on the request path: verification (prepared once) and `last_used_at`. */
@Injectable()
export class ApiKeysRepository {
  // Built once: the hot path only binds parameters (and PostgreSQL reuses the parsed statement).
  private readonly byPrefix;
  private readonly byPrefixWithOrg;

  constructor(@InjectDb() private readonly db: Db) {
    this.byPrefix = this.db
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
    this.byPrefixWithOrg = this.db
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

  /** The key with this prefix, if any. */
  async findByPrefix(prefix: string): Promise<KeyRow | undefined> {
    const [row] = await this.byPrefix.execute({ prefix });
    return row;
  }

  /**
   * The key with this prefix and the org with this slug as its caller may reach it, in one
   * round trip. A user key: the same rows the org directory's member lookup reads, no role when
   * the org is unknown or the user is not a member. A service key: whether it is limited to
   * some orgs, and whether `{org}` is one of them.
   */
  async findByPrefixWithOrg(prefix: string, slug: string): Promise<KeyRowWithOrg | undefined> {
    const [row] = await this.byPrefixWithOrg.execute({ prefix, slug });
    return row as KeyRowWithOrg | undefined;
  }

  /** Marks the keys used at `at`, in batches. */
  async touchLastUsed(ids: string[], at: Date): Promise<void> {
    for (let i = 0; i < ids.length; i += TOUCH_BATCH) {
      await this.db
        .update(apiKeys)
        .set({ lastUsedAt: at })
        .where(inArray(apiKeys.id, ids.slice(i, i + TOUCH_BATCH)));
    }
  }
}
