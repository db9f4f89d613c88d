import { Injectable } from '@nestjs/common';
import { and, asc, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import {
  apiKeyOrgs,
  type ApiKeyScope,
  apiKeys,
  Db,
  type DbTransaction,
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

/** The API keys' SQL: verification (prepared once), `last_used_at`, and the operators' key management. */
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

  /** A user's key, or a service key (no user) with its org limits, in one transaction. */
  async insert(
    key: {
      userId?: string;
      serviceName?: string;
      name: string;
      prefix: string;
      keyHash: string;
      expiresAt: Date | null;
      scopes: ApiKeyScope[] | null;
    },
    orgIds: string[] = [],
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [created] = await tx.insert(apiKeys).values(key).returning({ id: apiKeys.id });
      if (orgIds.length > 0)
        await tx.insert(apiKeyOrgs).values(orgIds.map((orgId) => ({ apiKeyId: created.id, orgId })));
    });
  }

  /** Revokes the key matching the whole key's hash or the prefix, in the caller's transaction, unless revoked already. */
  async revoke(tx: DbTransaction, match: { keyHash: string } | { prefix: string }) {
    const [revoked] = await tx
      .update(apiKeys)
      .set({ revokedAt: new Date() })
      .where(and(matchOf(match), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id, prefix: apiKeys.prefix, revokedAt: apiKeys.revokedAt });
    return revoked;
  }

  async exists(match: { keyHash: string } | { prefix: string }): Promise<boolean> {
    const [existing] = await this.db.select({ id: apiKeys.id }).from(apiKeys).where(matchOf(match));
    return existing !== undefined;
  }

  /** A user's keys, oldest first: what identifies them, never the key or its hash. */
  async userKeys(userId: string) {
    return this.db
      .select({
        prefix: apiKeys.prefix,
        name: apiKeys.name,
        createdAt: apiKeys.createdAt,
        lastUsedAt: apiKeys.lastUsedAt,
        expiresAt: apiKeys.expiresAt,
        revokedAt: apiKeys.revokedAt,
        scopes: apiKeys.scopes,
      })
      .from(apiKeys)
      .where(eq(apiKeys.userId, userId))
      .orderBy(asc(apiKeys.createdAt), asc(apiKeys.prefix));
  }

  /** Every service key, by service then age, with the slugs of the orgs it is limited to. */
  async serviceKeys() {
    const keys = await this.db
      .select({
        id: apiKeys.id,
        prefix: apiKeys.prefix,
        service: apiKeys.serviceName,
        name: apiKeys.name,
        scopes: apiKeys.scopes,
        createdAt: apiKeys.createdAt,
        lastUsedAt: apiKeys.lastUsedAt,
        expiresAt: apiKeys.expiresAt,
        revokedAt: apiKeys.revokedAt,
      })
      .from(apiKeys)
      .where(isNotNull(apiKeys.serviceName))
      .orderBy(asc(apiKeys.serviceName), asc(apiKeys.createdAt), asc(apiKeys.prefix));
    const limits =
      keys.length === 0
        ? []
        : await this.db
            .select({ apiKeyId: apiKeyOrgs.apiKeyId, slug: organizations.slug })
            .from(apiKeyOrgs)
            .innerJoin(organizations, eq(organizations.id, apiKeyOrgs.orgId))
            .where(
              inArray(
                apiKeyOrgs.apiKeyId,
                keys.map((key) => key.id),
              ),
            )
            .orderBy(asc(organizations.slug));
    return { keys, limits };
  }
}

const matchOf = (match: { keyHash: string } | { prefix: string }) =>
  'keyHash' in match ? eq(apiKeys.keyHash, match.keyHash) : eq(apiKeys.prefix, match.prefix);
