import { LRUCache } from 'lru-cache';
import { registerDecorator, ValidationArguments, ValidationOptions } from 'class-validator';
import { validationContextOf } from '@credits/errors';

export const MAX_REDIRECT_URL_LENGTH = 2048;
export const CHECKOUT_SESSION_ID_PLACEHOLDER = '{CHECKOUT_SESSION_ID}';

/**
 * Characters the WHATWG URL parser drops or reinterprets without a word: leading and
 * trailing C0 controls and spaces are trimmed, tabs and newlines removed anywhere, and a
 * backslash read as a slash. The URL checked would not be the string Stripe redirects to
 * (a parser that reads it otherwise may find another host), so none of them is accepted;
 * nor is any other whitespace or control character, which a valid URL never holds.
 */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const SILENTLY_ALTERED = /[\s\u0000-\u001f\u007f-\u009f\\]/u;

/**
 * Where Checkout may send the buyer back to. Hosts come from
 * CHECKOUT_ALLOWED_REDIRECT_HOSTS: `app.example.com` matches that host exactly,
 * `*.example.com` any sub-domain of it (not example.com itself); a pattern with a port
 * (`localhost:3000`) matches that port only.
 */
export class RedirectUrlPolicy {
  /**
   * URLs already parsed: a client sends the same few redirect URLs with every checkout, and
   * each is judged by three rules. Only URLs within the length limit are kept (a 2,048-character
   * URL can parse to a far longer one: some 20 MB at worst, bounded). Nothing changes a kept URL.
   */
  private readonly parsed = new LRUCache<string, { url: URL | undefined }>({ max: 1000 });

  constructor(
    private readonly allowedHosts: string[],
    private readonly requireHttps: boolean,
  ) {}

  /** The URL parsed, with Stripe's session-id placeholder allowed anywhere in it (never to be changed). */
  parse(value: string): URL | undefined {
    const known = this.parsed.get(value);
    if (known) return known.url;
    const url = parseRedirectUrl(value);
    if (value.length <= MAX_REDIRECT_URL_LENGTH) this.parsed.set(value, { url });
    return url;
  }

  schemeAllowed(url: URL): boolean {
    return url.protocol === 'https:' || (!this.requireHttps && url.protocol === 'http:');
  }

  hostAllowed(url: URL): boolean {
    const host = url.hostname.toLowerCase();
    return this.allowedHosts.some((pattern) => {
      const [patternHost, patternPort] = pattern.split(':');
      if (patternPort !== undefined && patternPort !== url.port) return false;
      if (patternHost.startsWith('*.'))
        return host.endsWith(patternHost.slice(1)) && host.length > patternHost.length - 1;
      return host === patternHost;
    });
  }

  get schemeMessage(): string {
    return this.requireHttps ? "URL scheme should be 'https'" : "URL scheme should be 'http' or 'https'";
  }
}

function parseRedirectUrl(value: string): URL | undefined {
  if (SILENTLY_ALTERED.test(value)) return undefined;
  try {
    // The placeholder's braces are not valid in every URL part; check a stand-in.
    return new URL(value.split(CHECKOUT_SESSION_ID_PLACEHOLDER).join('cs_placeholder'));
  } catch {
    return undefined;
  }
}

export const REDIRECT_URL_POLICY = 'redirectUrlPolicy';

function policyOf(args: ValidationArguments): RedirectUrlPolicy {
  const policy = validationContextOf(args.object)[REDIRECT_URL_POLICY];
  if (!(policy instanceof RedirectUrlPolicy)) throw new Error('RedirectUrlPolicy missing from the validation context');
  return policy;
}

/**
 * A Checkout redirect URL. Registers three constraints named after their pydantic error
 * types; each judges one aspect and leaves the others to its siblings, so a field gets
 * the first failing one of `url_parsing`, `url_scheme`, `url_host_not_allowed`.
 */
export function IsRedirectUrl(options: { allowSessionIdPlaceholder: boolean }): PropertyDecorator {
  const parsed = (value: unknown, args: ValidationArguments) =>
    typeof value === 'string' ? policyOf(args).parse(value) : undefined;
  const rules: [
    string,
    (value: unknown, args: ValidationArguments) => boolean,
    (args: ValidationArguments) => string,
  ][] = [
    [
      'url_parsing',
      (value, args) => {
        if (typeof value !== 'string') return true;
        const url = parsed(value, args);
        if (!url || !/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || url.hostname === '') return false;
        return options.allowSessionIdPlaceholder || !value.includes(CHECKOUT_SESSION_ID_PLACEHOLDER);
      },
      (args) =>
        typeof args.value === 'string' &&
        args.value.includes(CHECKOUT_SESSION_ID_PLACEHOLDER) &&
        !options.allowSessionIdPlaceholder
          ? `${CHECKOUT_SESSION_ID_PLACEHOLDER} is only allowed in success_url`
          : 'Input should be a valid absolute URL',
    ],
    [
      'url_scheme',
      (value, args) => {
        const url = parsed(value, args);
        return !url || policyOf(args).schemeAllowed(url);
      },
      (args) => policyOf(args).schemeMessage,
    ],
    [
      'url_host_not_allowed',
      (value, args) => {
        const url = parsed(value, args);
        return !url || policyOf(args).hostAllowed(url);
      },
      (args) => `URL host '${parsed(args.value, args)?.hostname ?? ''}' is not on the redirect allow-list`,
    ],
  ];
  return (target: object, propertyName: string | symbol) => {
    for (const [name, validate, defaultMessage] of rules) {
      const validationOptions: ValidationOptions = {};
      registerDecorator({
        name,
        target: target.constructor,
        propertyName: propertyName as string,
        options: validationOptions,
        validator: { validate, defaultMessage },
      });
    }
  };
}
