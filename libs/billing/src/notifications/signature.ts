import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'Credits-Signature';

/** A new endpoint's signing secret (`whsec_…`, as Stripe's). */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(24).toString('base64url')}`;
}

/** `t=<unix>,v1=<hex HMAC-SHA256("<t>.<body>", secret)>`: Stripe's scheme. */
export function signatureHeader(body: string, secret: string, timestamp: number): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/**
 * The host's check, as docs/api.md gives it: a `v1` that matches in constant time, signed
 * within `toleranceSeconds` of now.
 */
export function verifySignature(
  body: string,
  header: string,
  secret: string,
  { toleranceSeconds = 300, now = Date.now() / 1000 } = {},
): boolean {
  const parts = header.split(',').map((part) => part.split('='));
  const timestamp = Number(parts.find(([key]) => key === 't')?.[1]);
  if (!Number.isInteger(timestamp) || Math.abs(now - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex'));
  return parts
    .filter(([key]) => key === 'v1')
    .some(([, value]) => {
      const given = Buffer.from(value ?? '');
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}
