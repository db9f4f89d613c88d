/** The JWT secret every test app is configured with (at least 32 bytes, as the config demands). */
export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long';

/** Request headers presenting `key` (an API key or a JWT) as a bearer credential, plus any `extra`. */
export function bearer(key: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${key}`, ...extra };
}
