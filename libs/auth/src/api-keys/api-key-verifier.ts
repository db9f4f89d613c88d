import { Injectable, Logger } from '@nestjs/common';
import { eq } from 'drizzle-orm';
import { apiKeys, Db, InjectDb, users } from '@credits/database';
import { AuthenticationError, ExpiredTokenError } from '@credits/errors';
import type { Principal } from '../principal';
import { apiKeyPrefix, hashApiKey, sameHash } from './api-key-format';

/** `last_used_at` is refreshed at most this often per key, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

@Injectable()
export class ApiKeyVerifier {
  private readonly logger = new Logger(ApiKeyVerifier.name);
  private readonly lastUsedWrites = new Map<string, number>();

  constructor(@InjectDb() private readonly db: Db) {}

  async verify(token: string): Promise<Principal> {
    const prefix = apiKeyPrefix(token);
    if (!prefix) throw new AuthenticationError('Invalid API key');
    const [row] = await this.db
      .select({
        id: apiKeys.id,
        keyHash: apiKeys.keyHash,
        expiresAt: apiKeys.expiresAt,
        revokedAt: apiKeys.revokedAt,
        userId: users.id,
        email: users.email,
      })
      .from(apiKeys)
      .innerJoin(users, eq(users.id, apiKeys.userId))
      .where(eq(apiKeys.prefix, prefix))
      .limit(1);
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
