import { randomUUID } from 'node:crypto';
import { parseScopes, SERVICE_KEY_PURCHASE_REFUSAL } from '@credits/auth/admin/directory-admin';
import type { DirectoryAdmin } from '@credits/auth/admin/directory-admin';
import type { LedgerRepository } from '@credits/billing/ledger/ledger.repository';
import { InsufficientBalanceError, type LedgerService } from '@credits/billing/ledger/ledger.service';
import type { NotificationEndpoints } from '@credits/billing/notifications/notification-endpoints.service';
import type { LedgerAuditService } from '@credits/billing/reconciliation/ledger-audit.service';
import type { ReconciliationService } from '@credits/billing/reconciliation/reconciliation.service';
import { ApiKeyScope, MEMBER_ROLES, MemberRole } from '@credits/database';
import type { Db } from '@credits/database';
import { parseArgs, ParsedArgs, parseDuration, UsageError } from './arguments';
import type { CommandOutput } from './command-output';
import { auditOutput, parseSince, reconcileOutput } from './reconcile-output';

/** A command that could not be carried out; the CLI prints the message and exits 1. */
export class CliFailure extends Error {}

/** What the commands work with, from the CLI's Nest application context. */
export interface CliServices {
  db: Db;
  directory: DirectoryAdmin;
  /** Balances and ledger entries, read. */
  entries: LedgerRepository;
  /** Needs `billing: true` on the command (it brings the job queue and the Stripe client). */
  billing: () => BillingServices;
}

export interface BillingServices {
  ledger: LedgerService;
  notifications: NotificationEndpoints;
  reconciliation: ReconciliationService;
  audit: LedgerAuditService;
}

interface Command {
  /** The arguments as the usage shows them, after the command's name. */
  args: string;
  /** The usage's description; more lines are indented under it. */
  help: string[];
  /** How many positional arguments: exactly, or `[min, max]`. */
  positional: number | readonly [number, number];
  flags?: string[];
  /** Options without a value (`--dry-run`). */
  switches?: string[];
  /** It uses the ledger, notifications or Stripe: the context loads billing (slower to start). */
  billing?: true;
  /** Checks the arguments before anything opens: a mistake costs no database connection. */
  check?: (args: ParsedArgs) => void;
  run: (services: CliServices, args: ParsedArgs) => Promise<CommandOutput>;
}

/** Text columns: a missing value (never used, no expiry) reads `-`. */
const cell = (value: Date | string | number | null | undefined): string =>
  value === null || value === undefined ? '-' : value instanceof Date ? value.toISOString() : String(value);

/** `--scope a,b --scope c` -> [a, b, c] checked; an unknown one fails the command (exit 1). */
function scopesOf({ lists }: ParsedArgs): ApiKeyScope[] | undefined {
  if (lists.scope === undefined) return undefined;
  try {
    return parseScopes(lists.scope);
  } catch (error) {
    throw new CliFailure((error as Error).message);
  }
}

/** `--org a,b --org c` -> [a, b, c]. */
const orgsOf = ({ lists }: ParsedArgs): string[] =>
  (lists.org ?? []).flatMap((value) => value.split(',')).map((slug) => slug.trim());

/** A key's scopes in a listing: its own list, or `role` when it holds what its role allows. */
const scopeCell = (scopes: readonly string[] | null): string => (scopes === null ? 'role' : scopes.join(','));

const COMMANDS: Record<string, Command> = {
  'org create': {
    args: '<slug> [--name NAME]',
    help: ['create an organization (slug: a-z, 0-9, "-", 3-63 chars)'],
    positional: 1,
    flags: ['name'],
    async run({ directory }, { positional: [slug], flags }) {
      const org = await directory.createOrg(slug, flags.name);
      return {
        note: `created organization ${org.slug} (${org.id})`,
        json: { id: org.id, slug: org.slug, name: org.name, created_at: org.createdAt },
      };
    },
  },
  'org list': {
    args: '',
    help: ['list organizations: slug, name, members'],
    positional: 0,
    async run({ directory }) {
      const orgs = await directory.listOrgs();
      return {
        lines: orgs.map((org) => `${org.slug}\t${org.name}\t${org.members} member(s)`),
        note: orgs.length === 0 ? 'no organizations' : undefined,
        json: orgs.map((org) => ({
          id: org.id,
          slug: org.slug,
          name: org.name,
          members: org.members,
          created_at: org.createdAt,
        })),
      };
    },
  },
  'org show': {
    args: '<slug>',
    help: ['an organization: id, slug, name, created, Stripe customer, balance, members'],
    positional: 1,
    async run({ directory, entries }, { positional: [slug] }) {
      const org = await directory.orgBySlug(slug);
      const [balance, members] = await Promise.all([entries.balance(org.id), directory.memberCount(org.id)]);
      const shown = {
        id: org.id,
        slug: org.slug,
        name: org.name,
        created_at: org.createdAt,
        stripe_customer_id: org.stripeCustomerId,
        balance,
        members,
      };
      return { lines: Object.entries(shown).map(([field, value]) => `${field}\t${cell(value)}`), json: shown };
    },
  },
  'user create': {
    args: '<email>',
    help: ['create a user'],
    positional: 1,
    async run({ directory }, { positional: [email] }) {
      const user = await directory.createUser(email);
      return {
        note: `created user ${user.email} (${user.id})`,
        json: { id: user.id, email: user.email, created_at: user.createdAt },
      };
    },
  },
  'member add': {
    args: '<slug> <email> --role ROLE',
    help: ['add a user to an org (ROLE: owner, admin, member)'],
    positional: 2,
    flags: ['role'],
    check({ flags }) {
      if (!MEMBER_ROLES.includes(flags.role as MemberRole))
        throw new UsageError(`--role must be one of ${MEMBER_ROLES.join(', ')}`);
    },
    async run({ directory }, { positional: [slug, email], flags }) {
      const { user, role } = await directory.addMember(slug, email, flags.role as MemberRole);
      return { note: `added ${user.email} to ${slug} as ${role}`, json: { org: slug, email: user.email, role } };
    },
  },
  'member remove': {
    args: '<slug> <email>',
    help: ['remove a user from an org (their API keys stay, for their other orgs)'],
    positional: 2,
    async run({ directory }, { positional: [slug, email] }) {
      const { user, role } = await directory.removeMember(slug, email);
      return { note: `removed ${user.email} (${role}) from ${slug}`, json: { org: slug, email: user.email, role } };
    },
  },
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
  'credits grant': {
    args: '<slug> <amount> --reason TEXT [--ref ID]',
    help: [
      'add (or, negative, remove) credits: an admin_adjustment entry;',
      'with --ref, running it again (e.g. after a lost connection)',
      'applies it once',
    ],
    billing: true,
    positional: 2,
    flags: ['reason', 'ref'],
    check({ positional: [, amount], flags }) {
      if (!/^-?\d{1,12}$/.test(amount) || Number(amount) === 0)
        throw new UsageError('<amount> must be a non-zero whole number of credits');
      if (!flags.reason?.trim()) throw new UsageError("--reason is required: it is the ledger entry's description");
      if (flags.ref !== undefined && !/^[A-Za-z0-9._:-]{1,100}$/.test(flags.ref)) {
        throw new UsageError(
          '--ref must be 1-100 characters of A-Z, a-z, 0-9, ".", "_", ":", "-" (e.g. a ticket number)',
        );
      }
    },
    async run({ db, directory, billing }, { positional: [slug, amountText], flags }) {
      const { ledger } = billing();
      const amount = Number(amountText);
      const org = await directory.orgBySlug(slug);
      let result;
      try {
        result = await db.transaction((tx) =>
          ledger.apply(tx, {
            orgId: org.id,
            amount,
            transactionType: 'admin_adjustment',
            description: flags.reason.trim(),
            // Per org: the same ticket may adjust two orgs once each.
            sourceRef: flags.ref === undefined ? `admin:${randomUUID()}` : `admin:${org.id}:${flags.ref}`,
          }),
        );
      } catch (error) {
        if (error instanceof InsufficientBalanceError) {
          throw new CliFailure(
            error.held > 0
              ? `the balance of ${slug} is ${error.balance}, of which ${error.held} held: removing ${-error.amount} would take the available balance below zero`
              : `the balance of ${slug} is ${error.balance}: removing ${-error.amount} would take it below zero`,
          );
        }
        throw error;
      }
      return {
        lines: [String(result.balance)],
        note: result.applied
          ? `${slug}: ${amount > 0 ? '+' : ''}${amount} credits; balance ${result.balance}`
          : `${slug}: --ref ${flags.ref} was already applied; nothing changed; balance ${result.balance}`,
        json: { org: slug, amount, applied: result.applied, balance: result.balance, ref: flags.ref ?? null },
      };
    },
  },
  'credits show': {
    args: '<slug>',
    help: ['the balance and the latest ledger entries'],
    positional: 1,
    async run({ directory, entries: ledger }, { positional: [slug] }) {
      const org = await directory.orgBySlug(slug);
      const [balance, entries] = await Promise.all([ledger.balance(org.id), ledger.entries(org.id, { limit: 20 })]);
      return {
        lines: [
          `balance\t${balance}`,
          ...entries.map(
            (entry) =>
              `${entry.createdAt.toISOString()}\t${entry.transactionType}\t${entry.amount > 0 ? '+' : ''}${entry.amount}\t${entry.balanceAfter}\t${entry.description}`,
          ),
        ],
        json: {
          org: slug,
          balance,
          entries: entries.map((entry) => ({
            id: entry.id,
            created_at: entry.createdAt,
            transaction_type: entry.transactionType,
            amount: entry.amount,
            balance_after: entry.balanceAfter,
            description: entry.description,
          })),
        },
      };
    },
  },
  'credits audit': {
    args: '',
    help: [
      'every org: balance = sum of its ledger, every purchase entry',
      'matches a paid session, no refill unsettled (in flight over a',
      'day, or charged and not granted); prints any drift, exits 1 on drift',
    ],
    positional: 0,
    billing: true,
    async run({ billing }) {
      const { audit } = billing();
      const report = await audit.audit();
      return { ...auditOutput(report), failure: report.clean ? undefined : 'the ledger has drifted (see above)' };
    },
  },
  'stripe reconcile': {
    args: '[--since 72h] [--dry-run]',
    help: [
      'grant every paid Checkout session of the window not granted yet',
      '(and mark expired ones); prints what it granted or would grant',
    ],
    positional: 0,
    flags: ['since'],
    switches: ['dry-run'],
    billing: true,
    check({ flags }) {
      parseSince(flags.since);
    },
    async run({ billing }, { flags, switches }) {
      const { reconciliation } = billing();
      const since = parseSince(flags.since);
      const dryRun = switches.has('dry-run');
      return reconcileOutput(await reconciliation.reconcile({ since, dryRun }), since, dryRun);
    },
  },
  'notify add': {
    args: '<url> [--events a,b]',
    help: [
      'register an endpoint for notifications (all events, or those',
      'listed); prints its signing secret (only) on stdout, once',
    ],
    positional: 1,
    flags: ['events'],
    billing: true,
    async run({ billing }, { positional: [url], flags }) {
      const { notifications } = billing();
      const events = flags.events?.split(',').map((type) => type.trim());
      const { endpoint, secret } = await notifications.add(url, events);
      return {
        lines: [secret],
        note: `added endpoint ${endpoint.id} for ${endpoint.events?.join(',') ?? 'every event'}; its signing secret is shown once:`,
        json: { id: endpoint.id, url: endpoint.url, events: endpoint.events, secret, created_at: endpoint.createdAt },
      };
    },
  },
  'notify list': {
    args: '',
    help: ['the endpoints: id, url, events, created'],
    positional: 0,
    billing: true,
    async run({ billing }) {
      const { notifications } = billing();
      const endpoints = await notifications.list();
      return {
        lines: endpoints.map((e) => [e.id, e.url, e.events?.join(',') ?? '*', e.createdAt].map(cell).join('\t')),
        note: endpoints.length === 0 ? 'no endpoints' : undefined,
        json: endpoints.map((e) => ({ id: e.id, url: e.url, events: e.events, created_at: e.createdAt })),
      };
    },
  },
  'notify remove': {
    args: '<id>',
    help: ['stop notifying an endpoint'],
    positional: 1,
    billing: true,
    async run({ billing }, { positional: [id] }) {
      const { notifications } = billing();
      await notifications.remove(id);
      return { note: `removed endpoint ${id}`, json: { id, removed: true } };
    },
  },
  'notify deliveries': {
    args: '[--failed]',
    help: ['the latest delivery attempts (--failed: failed or given up)'],
    positional: 0,
    switches: ['failed'],
    billing: true,
    async run({ billing }, { switches }) {
      const { notifications } = billing();
      const failedOnly = switches.has('failed');
      const rows = await notifications.deliveries({ failedOnly });
      return {
        lines: rows.map((d) =>
          [d.createdAt, d.eventId, d.endpointId, d.attempt, d.status, d.responseCode, d.error].map(cell).join('\t'),
        ),
        note: rows.length === 0 ? (failedOnly ? 'no failed deliveries' : 'no deliveries') : undefined,
        json: rows.map((d) => ({
          created_at: d.createdAt,
          event_id: d.eventId,
          endpoint_id: d.endpointId,
          attempt: d.attempt,
          status: d.status,
          response_code: d.responseCode,
          error: d.error,
        })),
      };
    },
  },
  'notify resend': {
    args: '<event id>',
    help: ['send an event (evt_…) again to every endpoint that takes it'],
    positional: 1,
    billing: true,
    async run({ billing }, { positional: [eventId] }) {
      const { notifications } = billing();
      const scheduled = await notifications.resend(eventId);
      return {
        lines: [String(scheduled)],
        note: `${eventId}: ${scheduled} delivery attempt(s) scheduled`,
        json: { event_id: eventId, scheduled },
      };
    },
  },
};

const COLUMN = 41;

export const USAGE = `Usage: npm run cli -- <command> [--json]

${Object.entries(COMMANDS)
  .map(([name, { args, help }]) => {
    const synopsis = `  ${name}${args ? ` ${args}` : ''}`;
    const [first, ...more] = help;
    const head =
      synopsis.length < COLUMN ? [synopsis.padEnd(COLUMN) + first] : [synopsis, `${' '.repeat(COLUMN)}${first}`];
    return [...head, ...more.map((line) => ' '.repeat(COLUMN) + line)].join('\n');
  })
  .join('\n')}

  --json                                   any command: one JSON document on stdout instead of text
`;

export interface ResolvedCommand {
  args: ParsedArgs;
  billing: boolean;
  run: (services: CliServices) => Promise<CommandOutput>;
}

/** The command named by the first two words, its arguments parsed and checked. */
export function resolveCommand(argv: string[]): ResolvedCommand {
  const name = argv.slice(0, 2).join(' ');
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) throw new UsageError(argv.length === 0 ? 'no command given' : `unknown command "${name}"`);
  const args = parseArgs(argv.slice(2), command.flags ?? [], command.switches ?? []);
  const [min, max] =
    typeof command.positional === 'number' ? [command.positional, command.positional] : command.positional;
  if (args.positional.length < min || args.positional.length > max)
    throw new UsageError(`expected ${name}${command.args ? ` ${command.args}` : ''}`);
  command.check?.(args);
  return { args, billing: command.billing === true, run: (services) => command.run(services, args) };
}
