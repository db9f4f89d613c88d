import { Injectable, Optional } from '@nestjs/common';
import { API_KEY_SCOPES, type ApiKeyScope } from '@credits/database';
import { AuthenticationError, ExpiredTokenError, RefusedCredentialError } from '@credits/errors';
import type { OrgContext, Principal } from '@credits/identity';
import { ApiKeyUsage } from '../credential-cache/api-key-usage';
import { CredentialCache } from '../credential-cache/credential-cache';
import { SLUG_PATTERN } from '../directory/database-org-directory';
import { apiKeyPrefix, hashApiKey, sameHash } from './api-key-format';
import { ApiKeysRepository, type KeyRow } from './api-keys.repository';

@Injectable()
export class ApiKeyVerifier {
  constructor(
    private readonly keys: ApiKeysRepository,
    @Optional() private readonly cache?: CredentialCache,
    @Optional() private readonly usage?: ApiKeyUsage,
  ) {}

  async verify(token: string): Promise<Principal> {
    const prefix = apiKeyPrefix(token);
    if (!prefix) throw new AuthenticationError('Invalid API key');
    return this.remembered(token, '', async () => {
      const row = await this.keys.findByPrefix(prefix);
      const principal = this.check(token, row);
      return { value: principal, row: row! }; // check() threw for no row
    });
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
    return this.remembered(token, slug, async () => {
      const read = await this.keys.findByPrefixWithOrg(prefix, slug);
      const principal = this.check(token, read);
      const row = read!; // check() threw for no row
      const found = row.org?.id ? row.org : undefined;
      let org: OrgContext | undefined;
      if (found && principal.kind === 'service') {
        // Cached as one unit with the key: the org limit is part of the verified answer.
        org = !row.orgLimited || row.orgListed ? { ...(found as OrgContext), role: null } : undefined;
      } else if (found?.role) {
        org = found as OrgContext;
      }
      return { value: { principal, org }, row, orgId: org?.id };
    });
  }

  /**
   * `verifyWithOrg`'s answer when the credential cache holds it, else undefined (the caller then
   * awaits `verifyWithOrg`). Answered at once: most requests are served from the cache, and a
   * guard that needs no promise costs Nest none.
   */
  cachedWithOrg(token: string, slug: string): { principal: Principal; org: OrgContext | undefined } | undefined {
    if (!this.cache?.serving || !SLUG_PATTERN.test(slug) || !apiKeyPrefix(token)) return undefined;
    return this.cached(cacheId(token, slug));
  }

  /** The cache's answer under `id`, counted as a use of the key. */
  private cached<T>(id: string): T | undefined {
    const hit = this.cache!.get<T>(id);
    if (!hit) return undefined;
    this.usage?.record(hit.tags.keyId!);
    return hit.value;
  }

  /**
   * This key's answer (for `slug`, or '' for none) from the credential cache, else `load`'s,
   * stored once verified: `check` throws for an unknown, revoked or expired key, so no failed
   * lookup is ever stored, and an unknown key meets the same query and hash compare as before.
   * The cache forgets the key at `expires_at`, so an expired key is refused exactly then.
   */
  private async remembered<T>(
    token: string,
    slug: string,
    load: () => Promise<{
      value: T;
      row: { id: string; userId: string | null; expiresAt: Date | null };
      orgId?: string;
    }>,
  ): Promise<T> {
    if (!this.cache?.serving) return (await load()).value;
    const id = cacheId(token, slug);
    const hit = this.cached<T>(id);
    if (hit) return hit;
    const ticket = this.cache.ticket();
    const { value, row, orgId } = await load();
    this.cache.set(ticket, id, value, {
      keyId: row.id,
      userId: row.userId ?? undefined,
      orgId,
      // An answer that found no org by this slug is dropped when one is created with it.
      orgSlug: slug || undefined,
      expiresAt: row.expiresAt,
    });
    return value;
  }

  private check(token: string, row: KeyRow | undefined): Principal {
    if (!row || !sameHash(row.keyHash, hashApiKey(token))) throw new AuthenticationError('Invalid API key');
    if (row.revokedAt) throw new RefusedCredentialError('API key has been revoked');
    if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) throw new ExpiredTokenError('API key has expired');
    this.usage?.record(row.id);
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
}

/** Where the credential cache keeps a key's answer for `slug` ('' for none): never the key itself. */
function cacheId(token: string, slug: string): string {
  return `api_key:${hashApiKey(token)}:${slug}`;
}

/** The key's scopes this version knows; a name it does not know grants nothing. */
function knownScopes(scopes: string[] | null): ApiKeyScope[] | null {
  return scopes === null ? null : API_KEY_SCOPES.filter((scope) => scopes.includes(scope));
}
