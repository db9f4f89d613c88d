import type { ApiKeyScope } from '@credits/database';

/** The JWT secret every test app is configured with (at least 32 bytes, as the config demands). */
export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long';

/** Request headers presenting `key` (an API key or a JWT) as a bearer credential, plus any `extra`. */
export function bearer(key: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${key}`, ...extra };
}

/**
 * A person's key scoped like a host backend's: the member defaults plus `credits:spend`, which
 * no role implies (`t.member(org, email, 'member', SPEND)`).
 */
export const SPEND: ApiKeyScope[] = ['org:read', 'credits:read', 'credits:spend'];
