import { maskKey, StripeHttpError } from '../stripe-api/stripe-errors';

const API_KEY = /^(sk_test_|sk_live_|rk_test_|rk_live_|rk_)[A-Za-z0-9_]+$/;

/** The API key of `Authorization: Bearer <key>` (or Basic with the key as user), or Stripe's 401. */
export function authenticate(authorization: string | undefined): string {
  const apiKey = extractApiKey(authorization);
  if (!apiKey) {
    throw new StripeHttpError(401, {
      type: 'invalid_request_error',
      message:
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    });
  }
  if (!API_KEY.test(apiKey)) {
    throw new StripeHttpError(401, {
      type: 'invalid_request_error',
      message: `Invalid API Key provided: ${maskKey(apiKey)}`,
    });
  }
  return apiKey;
}

function extractApiKey(header: string | undefined): string | null {
  if (!header) return null;
  const space = header.indexOf(' ');
  if (space < 0) return null;
  const scheme = header.slice(0, space).toLowerCase();
  const credential = header.slice(space + 1).trim();
  if (scheme === 'bearer') return credential;
  if (scheme === 'basic') {
    const decoded = Buffer.from(credential, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(0, colon) : decoded;
  }
  return null;
}
