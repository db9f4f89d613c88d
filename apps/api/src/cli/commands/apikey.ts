import { SERVICE_KEY_PURCHASE_REFUSAL } from '@credits/auth/admin/directory-admin';
import { parseDuration, UsageError } from '../arguments';
import { type Command, CliFailure, cell, scopesOf, orgsOf, scopeCell } from '../command';

/** `apikey …` */
export const apiKeyCommands: Record<string, Command> = {
  'apikey create': {
    args: '(<email> | --service NAME) [--scope a,b] [--org SLUG]… [--name NAME] [--expires-in 30d]',
    help: [
      'create an API key; prints the key (only) on stdout.',
      "A user's key holds what the user's role allows in each",
      'org; --scope narrows it (and is the only way to give it',
      'credits:spend). A service key (--service) belongs to no',
      'user: it needs --scope (org:read, credits:read,',
      'credits:spend; never credits:purchase: a purchase needs',
      'a person) and serves every org, or only the --org ones',
    ],
    positional: [0, 1],
    flags: ['name', 'expires-in', 'service', 'scope', 'org'],
    check(args) {
      const { positional, flags } = args;
      if (flags['expires-in'] !== undefined) parseDuration(flags['expires-in']);
      if ((positional.length === 1) === (flags.service !== undefined))
        throw new UsageError('apikey create takes either <email> (a user key) or --service NAME (a service key)');
      const scopes = scopesOf(args);
      if (flags.service === undefined) {
        if (flags.org !== undefined)
          throw new CliFailure("--org limits a service key; a user's key follows the user's memberships");
        return;
      }
      if (scopes === undefined)
        throw new CliFailure('a service key needs --scope: e.g. --scope credits:spend,credits:read');
      if (scopes.includes('credits:purchase')) throw new CliFailure(SERVICE_KEY_PURCHASE_REFUSAL);
      if (orgsOf(args).some((slug) => slug === '')) throw new CliFailure('--org needs an organization slug');
    },
    async run({ directory }, args) {
      const { positional, flags } = args;
      const expiresIn = flags['expires-in'] === undefined ? undefined : parseDuration(flags['expires-in']);
      const expires = (at: Date | null) => (at ? `, expires ${at.toISOString()}` : '');
      if (flags.service !== undefined) {
        const created = await directory.createServiceKey(flags.service, {
          scopes: scopesOf(args)!,
          orgs: orgsOf(args),
          name: flags.name,
          expiresInMs: expiresIn,
        });
        const where = created.orgs.length === 0 ? 'every org' : created.orgs.join(', ');
        return {
          lines: [created.key],
          note:
            `created service key ${created.prefix} for ${flags.service} (${created.scopes.join(', ')} on ${where})` +
            `${expires(created.expiresAt)}; it is shown once:`,
          json: {
            key: created.key,
            prefix: created.prefix,
            service: flags.service,
            scopes: created.scopes,
            orgs: created.orgs.length === 0 ? null : created.orgs,
            expires_at: created.expiresAt,
          },
        };
      }
      const [email] = positional;
      const created = await directory.createApiKey(email, flags.name, expiresIn, scopesOf(args));
      const scoped = created.scopes ? ` (scopes ${created.scopes.join(', ')}, within the role's)` : '';
      return {
        lines: [created.key],
        note: `created API key ${created.prefix} for ${email}${scoped}${expires(created.expiresAt)}; it is shown once:`,
        json: {
          key: created.key,
          prefix: created.prefix,
          email,
          scopes: created.scopes,
          expires_at: created.expiresAt,
        },
      };
    },
  },
  'apikey list': {
    args: '<email> | --services',
    help: [
      "a user's keys: prefix, name, created, last used,",
      'expires, revoked, scopes ("role": what the role allows);',
      'never the key. --services: every service key: prefix,',
      'service, name, scopes, orgs (*: every org), created,',
      'last used, expires, revoked',
    ],
    positional: [0, 1],
    switches: ['services'],
    check({ positional, switches }) {
      if ((positional.length === 1) === switches.has('services'))
        throw new UsageError('apikey list takes either <email> or --services');
    },
    async run({ directory }, { positional: [email] }) {
      if (email === undefined) {
        const keys = await directory.listServiceKeys();
        return {
          lines: keys.map((key) =>
            [
              key.prefix,
              key.service,
              key.name,
              key.scopes.join(','),
              key.orgs.length === 0 ? '*' : key.orgs.join(','),
              key.createdAt,
              key.lastUsedAt,
              key.expiresAt,
              key.revokedAt,
            ]
              .map(cell)
              .join('\t'),
          ),
          note: keys.length === 0 ? 'no service keys' : undefined,
          json: keys.map((key) => ({
            prefix: key.prefix,
            service: key.service,
            name: key.name,
            scopes: key.scopes,
            orgs: key.orgs.length === 0 ? null : key.orgs,
            created_at: key.createdAt,
            last_used_at: key.lastUsedAt,
            expires_at: key.expiresAt,
            revoked_at: key.revokedAt,
          })),
        };
      }
      const keys = await directory.listApiKeys(email);
      return {
        lines: keys.map((key) =>
          [key.prefix, key.name, key.createdAt, key.lastUsedAt, key.expiresAt, key.revokedAt, scopeCell(key.scopes)]
            .map(cell)
            .join('\t'),
        ),
        note: keys.length === 0 ? `no API keys for ${email}` : undefined,
        json: keys.map((key) => ({
          prefix: key.prefix,
          name: key.name,
          scopes: key.scopes,
          created_at: key.createdAt,
          last_used_at: key.lastUsedAt,
          expires_at: key.expiresAt,
          revoked_at: key.revokedAt,
        })),
      };
    },
  },
  'apikey revoke': {
    args: '<key-prefix | key>',
    help: ["revoke a key, a user's or a service's, named by its", 'prefix (ck_XXXXXXXX) or given whole'],
    positional: 1,
    async run({ directory }, { positional: [prefixOrKey] }) {
      const key = await directory.revokeApiKey(prefixOrKey);
      return { note: `revoked API key ${key.prefix}`, json: { prefix: key.prefix, revoked_at: key.revokedAt } };
    },
  },
};
