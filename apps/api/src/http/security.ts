import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import helmet, { type HelmetOptions } from 'helmet';
import type { AppConfig } from '@credits/config';

/** Headers a browser may send to this API, and the ones a page may read back. */
const CORS_ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Client-Version', 'X-Request-Id'];
const CORS_EXPOSED_HEADERS = [
  'X-Request-Id',
  'Idempotent-Replayed',
  'Retry-After',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
];

/**
 * Security headers on every response (helmet's).
 *
 * The CSP is what Swagger UI at /docs needs and nothing more: its script and styles come
 * from this origin (its stylesheet sets inline styles, hence `'unsafe-inline'` for styles
 * only), its icons are `data:` URIs, and "Try it out" calls this origin. Scripts stay
 * same-origin only, and no page may frame ours. The JSON API itself loads nothing.
 *
 * They depend on the configuration only, so helmet computes them once, at boot (its
 * middleware, run against a response that keeps what it sets); every request then gets the
 * same object. (`@fastify/helmet` builds helmet's middleware anew on every request.)
 */
export function securityHeaders(config: AppConfig): Readonly<Record<string, string>> {
  const options: HelmetOptions = {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
      },
    },
    // HSTS only means something over https, which the load balancer terminates in production.
    strictTransportSecurity: config.isProduction ? { maxAge: 15552000, includeSubDomains: true } : false,
  };
  const headers: Record<string, string> = {};
  const collector = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  // Helmet throws on an invalid option (since 8.1) rather than passing it to `next`.
  helmet(options)({} as IncomingMessage, collector as unknown as ServerResponse, () => undefined);
  return Object.freeze(headers);
}

/** CORS for the web app's origins (the security headers are set by `registerHttpHooks`). */
export function registerCors(app: NestFastifyApplication, config: AppConfig): void {
  if (config.http.corsOrigins.length > 0) {
    app.enableCors({
      origin: config.http.corsOrigins,
      methods: ['GET', 'HEAD', 'POST'],
      allowedHeaders: CORS_ALLOWED_HEADERS,
      exposedHeaders: CORS_EXPOSED_HEADERS,
      // Bearer tokens, not cookies: no credentials mode needed.
      credentials: false,
      maxAge: 600,
    });
  }
}
