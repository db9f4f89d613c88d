import { API_KEY_SCOPES, ApiKeyScope, Db, isUniqueViolation, MEMBER_ROLES, MemberRole } from '@credits/database';
// Not the library's index: the admin CLI loads this file, and should not load Swagger and validation with it.
import { AlreadyExistsError, InvalidRequestError, NotFoundError } from '@credits/errors/api-exception';
import { apiKeyPrefix, generateApiKey, hashApiKey } from '../api-keys/api-key-format';
import { announceCredentialChange } from '../credential-cache/credential-changes';
import { ApiKeysRepository } from '../api-keys/api-keys.repository';
import { SLUG_PATTERN } from '../directory/database-org-directory';
import { MembersRepository } from '../directory/members.repository';
import { OrganizationsRepository } from '../directory/organizations.repository';

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
 * the database so it runs without the HTTP app; its SQL is the repositories'. Every change to
 * a key or a membership is announced (`announceCredentialChange`) in its own transaction, so
 * that every instance's credential cache drops it as it commits.
 */
export class DirectoryAdmin {
  private readonly orgs: OrganizationsRepository;
  private readonly members: MembersRepository;
  private readonly keys: ApiKeysRepository;

  constructor(private readonly db: Db) {
    this.orgs = new OrganizationsRepository(db);
    this.members = new MembersRepository(db);
    this.keys = new ApiKeysRepository(db);
  }

  async createOrg(slug: string, name?: string) {
    if (!SLUG_PATTERN.test(slug)) {
      throw new InvalidRequestError(
        'Slug must be 3–63 characters of a-z, 0-9 and "-", not starting or ending with "-"',
      );
    }
    try {
      return await this.db.transaction(async (tx) => {
        const org = await this.orgs.insert(tx, slug, name ?? slug);
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
      return await this.members.insertUser(normalized);
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
        await this.members.insertMembership(tx, org.id, user.id, role);
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
    await this.keys.insert({ userId: user.id, name, prefix, keyHash: hash, expiresAt, scopes: keyScopes });
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
    await this.keys.insert(
      { serviceName, name: options.name ?? serviceName, prefix, keyHash: hash, expiresAt, scopes },
      orgs.map((org) => org.id),
    );
    return { key, prefix, expiresAt, scopes, orgs: slugs };
  }

  /** `prefixOrKey`: the key's `ck_XXXXXXXX` prefix, or the whole key (then it must match exactly). */
  async revokeApiKey(prefixOrKey: string) {
    const keyPrefix = apiKeyPrefix(prefixOrKey);
    const match = keyPrefix ? { keyHash: hashApiKey(prefixOrKey) } : { prefix: prefixOrKey };
    // Messages name a key by its prefix: the whole key is a secret.
    const name = keyPrefix ?? prefixOrKey;
    const key = await this.db.transaction(async (tx) => {
      const revoked = await this.keys.revoke(tx, match);
      if (revoked) await announceCredentialChange(tx, { key: revoked.id });
      return revoked;
    });
    if (!key) {
      throw (await this.keys.exists(match))
        ? new AlreadyExistsError(`API key ${name} is already revoked`)
        : new NotFoundError(keyPrefix ? `No API key matches ${name}_…` : `No API key ${name}`);
    }
    return { prefix: key.prefix, revokedAt: key.revokedAt };
  }

  /** A user's keys, oldest first: what identifies them, never the key or its hash. */
  async listApiKeys(email: string) {
    const user = await this.userByEmail(email);
    return this.keys.userKeys(user.id);
  }

  /** Every service key, by service then age, with the slugs of the orgs it is limited to (none: every org). */
  async listServiceKeys() {
    const { keys, limits } = await this.keys.serviceKeys();
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
    const role = await this.db.transaction(async (tx) => {
      const removed = await this.members.deleteMembership(tx, org.id, user.id);
      if (removed) await announceCredentialChange(tx, { user: user.id, org: org.id });
      return removed;
    });
    if (!role) throw new NotFoundError(`${user.email} is not a member of ${slug}`);
    return { org, user, role };
  }

  memberCount(orgId: string): Promise<number> {
    return this.orgs.memberCount(orgId);
  }

  listOrgs() {
    return this.orgs.list();
  }

  async orgBySlug(slug: string) {
    const org = await this.orgs.bySlug(slug);
    if (!org) throw new NotFoundError(`No organization "${slug}"`);
    return org;
  }

  private async userByEmail(email: string) {
    const user = await this.members.userByEmail(email.trim().toLowerCase());
    if (!user) throw new NotFoundError(`No user ${email}`);
    return user;
  }
}
