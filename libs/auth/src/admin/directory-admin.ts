import { and, asc, count, eq, inArray, isNotNull, isNull } from 'drizzle-orm';
import {
  API_KEY_SCOPES,
  apiKeyOrgs,
  ApiKeyScope,
  apiKeys,
  Db,
  MEMBER_ROLES,
  MemberRole,
  memberships,
  organizations,
  users,
  isUniqueViolation,
} from '@credits/database';
// Not the library's index: the admin CLI loads this file, and should not load Swagger and validation with it.
import { AlreadyExistsError, InvalidRequestError, NotFoundError } from '@credits/errors/api-exception';
import { apiKeyPrefix, generateApiKey, hashApiKey } from '../api-keys/api-key-format';
import { announceCredentialChange } from '../credential-cache/credential-changes';
import { SLUG_PATTERN } from '../directory/database-org-directory';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export interface CreatedApiKey {
  key: string;
  prefix: string;
  expiresAt: Date | null;
  /** The key's own scope list; null on a user key that holds what its role allows. */
  scopes: ApiKeyScope[] | null;
}

export interface ServiceKeyOptions {
  /** What the key may do; at least one, never `credits:purchase`. */
  scopes: string[];
  /** Slugs of the orgs it is limited to; none: every org. */
  orgs?: string[];
  name?: string;
  expiresInMs?: number;
}

/**
 * Why a service key may not buy credits: a Checkout purchase records the person who pays, and
 * Stripe's pay page needs that person there; a backend holding a key is neither.
 */
export const SERVICE_KEY_PURCHASE_REFUSAL =
  'a service key cannot carry credits:purchase: a Checkout purchase records the person who buys and needs ' +
  "them at Stripe's pay page; buy with a person's key (admin or owner) instead";

/**
 * `credits:read,credits:spend` (also given as several values) -> the scopes, each once, in the
 * catalog's order. Throws InvalidRequestError on an unknown or empty one.
 */
export function parseScopes(values: string[]): ApiKeyScope[] {
  const named = values.flatMap((value) => value.split(',')).map((scope) => scope.trim());
  const unknown = named.filter((scope) => !API_KEY_SCOPES.includes(scope as ApiKeyScope));
  if (unknown.length > 0 || named.length === 0) {
    throw new InvalidRequestError(
      `unknown scope ${unknown.map((scope) => `"${scope}"`).join(', ') || '""'}; scopes are ${API_KEY_SCOPES.join(', ')}`,
    );
  }
  return API_KEY_SCOPES.filter((scope) => named.includes(scope));
}

/**
 * Operator actions on orgs, users, members and keys (the admin CLI). Plain class over
 * the database so it runs without the HTTP app. Every change to a key or a membership is
 * announced (`announceCredentialChange`) in its own transaction, so that every instance's
 * credential cache drops it as it commits.
 */
export class DirectoryAdmin {
  constructor(private readonly db: Db) {}

  async createOrg(slug: string, name?: string) {
    if (!SLUG_PATTERN.test(slug)) {
      throw new InvalidRequestError(
        'Slug must be 3–63 characters of a-z, 0-9 and "-", not starting or ending with "-"',
      );
    }
    try {
      return await this.db.transaction(async (tx) => {
        const [org] = await tx
          .insert(organizations)
          .values({ slug, name: name ?? slug })
          .returning();
        // Instances may hold "no such org" for this slug (a service key asked for it first).
        await announceCredentialChange(tx, { slug });
        return org;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new AlreadyExistsError(`Organization "${slug}" already exists`);
      throw error;
    }
  }

  async createUser(email: string) {
    const normalized = email.trim().toLowerCase();
    if (!EMAIL.test(normalized)) throw new InvalidRequestError(`"${email}" is not an email address`);
    try {
      const [user] = await this.db.insert(users).values({ email: normalized }).returning();
      return user;
    } catch (error) {
      if (isUniqueViolation(error)) throw new AlreadyExistsError(`User ${normalized} already exists`);
      throw error;
    }
  }

  async addMember(slug: string, email: string, role: MemberRole) {
    if (!MEMBER_ROLES.includes(role)) throw new InvalidRequestError(`Role must be one of ${MEMBER_ROLES.join(', ')}`);
    const org = await this.orgBySlug(slug);
    const user = await this.userByEmail(email);
    try {
      await this.db.transaction(async (tx) => {
        await tx.insert(memberships).values({ orgId: org.id, userId: user.id, role });
        // The user's cached "not a member" of this org.
        await announceCredentialChange(tx, { user: user.id, org: org.id });
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new AlreadyExistsError(`${user.email} is already a member of ${slug}`);
      throw error;
    }
    return { org, user, role };
  }

  /**
   * A user's key. `scopes` narrows what the user's role allows in each org (evaluated per org
   * when the key is used); it is also the only way to give a person's key `credits:spend`.
   */
  async createApiKey(email: string, name = 'default', expiresInMs?: number, scopes?: string[]): Promise<CreatedApiKey> {
    const keyScopes = scopes === undefined ? null : parseScopes(scopes);
    const user = await this.userByEmail(email);
    const { key, prefix, hash } = generateApiKey();
    const expiresAt = expiresInMs === undefined ? null : new Date(Date.now() + expiresInMs);
    await this.db
      .insert(apiKeys)
      .values({ userId: user.id, name, prefix, keyHash: hash, expiresAt, scopes: keyScopes });
    return { key, prefix, expiresAt, scopes: keyScopes };
  }

  /** A host backend's key: no user, exactly `scopes`, on every org or only on `orgs`. */
  async createServiceKey(
    serviceName: string,
    options: ServiceKeyOptions,
  ): Promise<CreatedApiKey & { scopes: ApiKeyScope[]; orgs: string[] }> {
    if (!SERVICE_NAME.test(serviceName)) {
      throw new InvalidRequestError('The service name must be 1-63 characters of A-Z, a-z, 0-9, ".", "_", "-"');
    }
    const scopes = parseScopes(options.scopes);
    if (scopes.includes('credits:purchase')) throw new InvalidRequestError(SERVICE_KEY_PURCHASE_REFUSAL);
    const slugs = [...new Set(options.orgs ?? [])];
    const orgs = await Promise.all(slugs.map((slug) => this.orgBySlug(slug)));
    const { key, prefix, hash } = generateApiKey();
    const expiresAt = options.expiresInMs === undefined ? null : new Date(Date.now() + options.expiresInMs);
    await this.db.transaction(async (tx) => {
      const [created] = await tx
        .insert(apiKeys)
        .values({ serviceName, name: options.name ?? serviceName, prefix, keyHash: hash, expiresAt, scopes })
        .returning({ id: apiKeys.id });
      if (orgs.length > 0) {
        await tx.insert(apiKeyOrgs).values(orgs.map((org) => ({ apiKeyId: created.id, orgId: org.id })));
      }
    });
    return { key, prefix, expiresAt, scopes, orgs: slugs };
  }

  /** `prefixOrKey`: the key's `ck_XXXXXXXX` prefix, or the whole key (then it must match exactly). */
  async revokeApiKey(prefixOrKey: string) {
    const keyPrefix = apiKeyPrefix(prefixOrKey);
    const match = keyPrefix ? eq(apiKeys.keyHash, hashApiKey(prefixOrKey)) : eq(apiKeys.prefix, prefixOrKey);
    // Messages name a key by its prefix: the whole key is a secret.
    const name = keyPrefix ?? prefixOrKey;
    const key = await this.db.transaction(async (tx) => {
      const [revoked] = await tx
        .update(apiKeys)
        .set({ revokedAt: new Date() })
        .where(and(match, isNull(apiKeys.revokedAt)))
        .returning({ id: apiKeys.id, prefix: apiKeys.prefix, revokedAt: apiKeys.revokedAt });
      if (revoked) await announceCredentialChange(tx, { key: revoked.id });
      return revoked;
    });
    if (!key) {
      const [existing] = await this.db.select({ id: apiKeys.id }).from(apiKeys).where(match);
      throw existing
        ? new AlreadyExistsError(`API key ${name} is already revoked`)
        : new NotFoundError(keyPrefix ? `No API key matches ${name}_…` : `No API key ${name}`);
    }
    return { prefix: key.prefix, revokedAt: key.revokedAt };
  }

  /** A user's keys, oldest first: what identifies them, never the key or its hash. */
  async listApiKeys(email: string) {
    const user = await this.userByEmail(email);
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
      .where(eq(apiKeys.userId, user.id))
      .orderBy(asc(apiKeys.createdAt), asc(apiKeys.prefix));
  }

  /** Every service key, by service then age, with the slugs of the orgs it is limited to (none: every org). */
  async listServiceKeys() {
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
    return keys.map(({ id, service, scopes, ...key }) => ({
      ...key,
      service: service!,
      scopes: scopes ?? [],
      orgs: limits.filter((limit) => limit.apiKeyId === id).map((limit) => limit.slug),
    }));
  }

  /** The user loses access to the org at once; their keys stay (they may serve other orgs). */
  async removeMember(slug: string, email: string) {
    const org = await this.orgBySlug(slug);
    const user = await this.userByEmail(email);
    const [removed] = await this.db.transaction(async (tx) => {
      const deleted = await tx
        .delete(memberships)
        .where(and(eq(memberships.orgId, org.id), eq(memberships.userId, user.id)))
        .returning({ role: memberships.role });
      if (deleted.length > 0) await announceCredentialChange(tx, { user: user.id, org: org.id });
      return deleted;
    });
    if (!removed) throw new NotFoundError(`${user.email} is not a member of ${slug}`);
    return { org, user, role: removed.role };
  }

  async memberCount(orgId: string): Promise<number> {
    const [row] = await this.db.select({ members: count() }).from(memberships).where(eq(memberships.orgId, orgId));
    return row.members;
  }

  async listOrgs() {
    return this.db
      .select({
        id: organizations.id,
        slug: organizations.slug,
        name: organizations.name,
        members: count(memberships.userId),
        createdAt: organizations.createdAt,
      })
      .from(organizations)
      .leftJoin(memberships, eq(memberships.orgId, organizations.id))
      .groupBy(organizations.id)
      .orderBy(asc(organizations.slug));
  }

  async orgBySlug(slug: string) {
    const [org] = await this.db.select().from(organizations).where(eq(organizations.slug, slug));
    if (!org) throw new NotFoundError(`No organization "${slug}"`);
    return org;
  }

  private async userByEmail(email: string) {
    const [user] = await this.db.select().from(users).where(eq(users.email, email.trim().toLowerCase()));
    if (!user) throw new NotFoundError(`No user ${email}`);
    return user;
  }
}
