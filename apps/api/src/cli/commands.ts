import { randomUUID } from 'node:crypto';
import { DirectoryAdmin } from '@credits/auth';
import {
  InsufficientBalanceError,
  LedgerRepository,
  LedgerService,
  NotificationDelivery,
  notificationDeliveryJob,
  notificationDispatchJob,
  NotificationEndpoints,
  NotificationOutbox,
  NotificationRepository,
} from '@credits/billing';
import type { AppConfig } from '@credits/config';
import { MEMBER_ROLES, MemberRole } from '@credits/database';
import type { DatabaseHandle, Db } from '@credits/database';
import { JobsService } from '@credits/jobs';
import { parseArgs, parseDuration, UsageError } from './arguments';
import { auditOutput, parseSince, reconcileOutput, ReportOutput, withFulfilment } from './reconcile-commands';

/** A command that could not be carried out; the CLI prints the message and exits 1. */
export class CliFailure extends Error {}

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

export const USAGE = `Usage: npm run cli -- <command>

  org create <slug> [--name NAME]          create an organization (slug: a-z, 0-9, "-", 3-63 chars)
  org list                                 list organizations
  user create <email>                      create a user
  member add <slug> <email> --role ROLE    add a user to an org (ROLE: owner, admin, member)
  apikey create <email> [--name NAME] [--expires-in 30d]
                                           create an API key; prints the key (only) on stdout
  apikey revoke <key-prefix>               revoke a key by its prefix (ck_XXXXXXXX)
  credits grant <slug> <amount> --reason TEXT [--ref ID]
                                           add (or, negative, remove) credits: an admin_adjustment entry;
                                           with --ref, running it again (e.g. after a lost connection)
                                           applies it once
  credits show <slug>                      the balance and the latest ledger entries
  notify add <url> [--events a,b]          register an endpoint for notifications (all events, or those
                                           listed); prints its signing secret (only) on stdout, once
  notify list                              the endpoints: id, url, events, created
  notify remove <id>                       stop notifying an endpoint
  notify deliveries [--failed]             the latest delivery attempts (--failed: failed or given up)
  notify resend <event id>                 send an event (evt_…) again to every endpoint that takes it
  credits audit [--json]                   every org: balance = sum of its ledger, every purchase entry
                                           matches a paid session; prints any drift, exits 1 on drift
  stripe reconcile [--since 72h] [--dry-run] [--json]
                                           grant every paid Checkout session of the window not granted yet
                                           (and mark expired ones); prints what it granted or would grant
`;

/** The server's configuration and database, for commands that write the ledger. */
export interface CliContext {
  config: AppConfig;
  handle: DatabaseHandle;
}

type Command = (db: Db, argv: string[], io: CliIo, context: CliContext) => Promise<void>;

interface CliServices {
  ledger: LedgerService;
  notifications: NotificationEndpoints;
}

/**
 * The ledger and notifications as the server has them, on a queue that sends jobs and runs
 * none: a ledger entry writes its notification events and queues their delivery in its
 * transaction, and the server's workers deliver them.
 */
async function withServices<T>({ config, handle }: CliContext, use: (services: CliServices) => Promise<T>): Promise<T> {
  const { retryDelaySeconds, retryWindowSeconds } = config.notifications;
  const jobs = new JobsService(handle, {
    work: false,
    jobs: [notificationDispatchJob, notificationDeliveryJob(retryDelaySeconds, retryWindowSeconds)],
  });
  await jobs.onApplicationBootstrap();
  try {
    const repository = new NotificationRepository(handle.db);
    const outbox = new NotificationOutbox(repository, jobs, config);
    const delivery = new NotificationDelivery(handle.db, repository, jobs, config);
    return await use({
      ledger: new LedgerService(new LedgerRepository(handle.db), outbox),
      notifications: new NotificationEndpoints(repository, delivery, config),
    });
  } finally {
    await jobs.onModuleDestroy();
  }
}

/** Takes the switches (`--json`, `--dry-run`: no value) out of the arguments. */
function switches(argv: string[], names: string[]): [Record<string, boolean>, string[]] {
  const on = Object.fromEntries(names.map((name) => [name, argv.includes(`--${name}`)]));
  return [on, argv.filter((arg) => !names.some((name) => arg === `--${name}`))];
}

function emit(output: ReportOutput, json: boolean, io: CliIo): void {
  if (json) return io.out(JSON.stringify(output.json, null, 2));
  for (const line of output.lines) io.out(line);
  io.err(output.note);
}

function exactly(args: string[], count: number, what: string): string[] {
  if (args.length !== count) throw new UsageError(`expected ${what}`);
  return args;
}

export const COMMANDS: Record<string, Command> = {
  'org create': async (db, argv, io) => {
    const { positional, flags } = parseArgs(argv, ['name']);
    const [slug] = exactly(positional, 1, 'org create <slug> [--name NAME]');
    const org = await new DirectoryAdmin(db).createOrg(slug, flags.name);
    io.err(`created organization ${org.slug} (${org.id})`);
  },
  'org list': async (db, argv, io) => {
    exactly(parseArgs(argv, []).positional, 0, 'org list');
    const orgs = await new DirectoryAdmin(db).listOrgs();
    if (orgs.length === 0) io.err('no organizations');
    for (const org of orgs) io.out(`${org.slug}\t${org.name}\t${org.members} member(s)`);
  },
  'user create': async (db, argv, io) => {
    const [email] = exactly(parseArgs(argv, []).positional, 1, 'user create <email>');
    const user = await new DirectoryAdmin(db).createUser(email);
    io.err(`created user ${user.email} (${user.id})`);
  },
  'member add': async (db, argv, io) => {
    const { positional, flags } = parseArgs(argv, ['role']);
    const [slug, email] = exactly(positional, 2, 'member add <slug> <email> --role ROLE');
    if (!MEMBER_ROLES.includes(flags.role as MemberRole))
      throw new UsageError(`--role must be one of ${MEMBER_ROLES.join(', ')}`);
    const { user, role } = await new DirectoryAdmin(db).addMember(slug, email, flags.role as MemberRole);
    io.err(`added ${user.email} to ${slug} as ${role}`);
  },
  'apikey create': async (db, argv, io) => {
    const { positional, flags } = parseArgs(argv, ['name', 'expires-in']);
    const [email] = exactly(positional, 1, 'apikey create <email> [--name NAME] [--expires-in 30d]');
    const expiresIn = flags['expires-in'] === undefined ? undefined : parseDuration(flags['expires-in']);
    const created = await new DirectoryAdmin(db).createApiKey(email, flags.name, expiresIn);
    io.err(
      `created API key ${created.prefix} for ${email}${created.expiresAt ? `, expires ${created.expiresAt.toISOString()}` : ''}; it is shown once:`,
    );
    io.out(created.key);
  },
  'apikey revoke': async (db, argv, io) => {
    const [prefix] = exactly(parseArgs(argv, []).positional, 1, 'apikey revoke <key-prefix>');
    await new DirectoryAdmin(db).revokeApiKey(prefix);
    io.err(`revoked API key ${prefix}`);
  },
  'credits grant': async (db, argv, io, context) => {
    const { positional, flags } = parseArgs(argv, ['reason', 'ref']);
    const [slug, amountText] = exactly(positional, 2, 'credits grant <slug> <amount> --reason TEXT [--ref ID]');
    if (!/^-?\d{1,12}$/.test(amountText) || Number(amountText) === 0)
      throw new UsageError('<amount> must be a non-zero whole number of credits');
    if (!flags.reason?.trim()) throw new UsageError("--reason is required: it is the ledger entry's description");
    if (flags.ref !== undefined && !/^[A-Za-z0-9._:-]{1,100}$/.test(flags.ref)) {
      throw new UsageError(
        '--ref must be 1-100 characters of A-Z, a-z, 0-9, ".", "_", ":", "-" (e.g. a ticket number)',
      );
    }
    const org = await new DirectoryAdmin(db).orgBySlug(slug);
    try {
      const result = await withServices(context, ({ ledger }) =>
        db.transaction((tx) =>
          ledger.apply(tx, {
            orgId: org.id,
            amount: Number(amountText),
            transactionType: 'admin_adjustment',
            description: flags.reason.trim(),
            // Per org: the same ticket may adjust two orgs once each.
            sourceRef: flags.ref === undefined ? `admin:${randomUUID()}` : `admin:${org.id}:${flags.ref}`,
          }),
        ),
      );
      if (!result.applied)
        io.err(`${slug}: --ref ${flags.ref} was already applied; nothing changed; balance ${result.balance}`);
      else io.err(`${slug}: ${Number(amountText) > 0 ? '+' : ''}${amountText} credits; balance ${result.balance}`);
      io.out(String(result.balance));
    } catch (error) {
      if (error instanceof InsufficientBalanceError) {
        throw new CliFailure(
          `the balance of ${slug} is ${error.balance}: removing ${-error.amount} would take it below zero`,
        );
      }
      throw error;
    }
  },
  'credits show': async (db, argv, io) => {
    const [slug] = exactly(parseArgs(argv, []).positional, 1, 'credits show <slug>');
    const org = await new DirectoryAdmin(db).orgBySlug(slug);
    const ledger = new LedgerRepository(db);
    io.out(`balance\t${await ledger.balance(org.id)}`);
    for (const entry of await ledger.entries(org.id, { limit: 20 })) {
      io.out(
        `${entry.createdAt.toISOString()}\t${entry.transactionType}\t${entry.amount > 0 ? '+' : ''}${entry.amount}\t${entry.balanceAfter}\t${entry.description}`,
      );
    }
  },
  'credits audit': async (_db, argv, io, { config, handle }) => {
    const [{ json }, rest] = switches(argv, ['json']);
    exactly(parseArgs(rest, []).positional, 0, 'credits audit [--json]');
    const audit = await withFulfilment(config, handle, (services) => services.audit.audit());
    emit(auditOutput(audit), json, io);
    if (!audit.clean) throw new CliFailure('the ledger has drifted (see above)');
  },
  'stripe reconcile': async (_db, argv, io, { config, handle }) => {
    const [{ json, 'dry-run': dryRun }, rest] = switches(argv, ['json', 'dry-run']);
    const { positional, flags } = parseArgs(rest, ['since']);
    exactly(positional, 0, 'stripe reconcile [--since 72h] [--dry-run] [--json]');
    const since = parseSince(flags.since);
    const report = await withFulfilment(config, handle, (services) =>
      services.reconciliation.reconcile({ since, dryRun }),
    );
    emit(reconcileOutput(report, since, dryRun), json, io);
  },
};

COMMANDS['notify add'] = async (_db, argv, io, context) => {
  const { positional, flags } = parseArgs(argv, ['events']);
  const [url] = exactly(positional, 1, 'notify add <url> [--events a,b]');
  const events = flags.events?.split(',').map((type) => type.trim());
  const { endpoint, secret } = await withServices(context, ({ notifications }) => notifications.add(url, events));
  io.err(
    `added endpoint ${endpoint.id} for ${endpoint.events?.join(',') ?? 'every event'}; its signing secret is shown once:`,
  );
  io.out(secret);
};
COMMANDS['notify list'] = async (_db, argv, io, context) => {
  exactly(parseArgs(argv, []).positional, 0, 'notify list');
  const endpoints = await withServices(context, ({ notifications }) => notifications.list());
  if (endpoints.length === 0) io.err('no endpoints');
  for (const e of endpoints) io.out(`${e.id}\t${e.url}\t${e.events?.join(',') ?? '*'}\t${e.createdAt.toISOString()}`);
};
COMMANDS['notify remove'] = async (_db, argv, io, context) => {
  const [id] = exactly(parseArgs(argv, []).positional, 1, 'notify remove <id>');
  await withServices(context, ({ notifications }) => notifications.remove(id));
  io.err(`removed endpoint ${id}`);
};
COMMANDS['notify deliveries'] = async (_db, argv, io, context) => {
  // A switch, not an option with a value.
  const failedOnly = argv.includes('--failed');
  exactly(
    parseArgs(
      argv.filter((arg) => arg !== '--failed'),
      [],
    ).positional,
    0,
    'notify deliveries [--failed]',
  );
  const rows = await withServices(context, ({ notifications }) => notifications.deliveries({ failedOnly }));
  if (rows.length === 0) io.err(failedOnly ? 'no failed deliveries' : 'no deliveries');
  for (const d of rows) {
    io.out(
      [
        d.createdAt.toISOString(),
        d.eventId,
        d.endpointId,
        d.attempt,
        d.status,
        d.responseCode ?? '-',
        d.error ?? '-',
      ].join('\t'),
    );
  }
};
COMMANDS['notify resend'] = async (_db, argv, io, context) => {
  const [eventId] = exactly(parseArgs(argv, []).positional, 1, 'notify resend <event id>');
  const scheduled = await withServices(context, ({ notifications }) => notifications.resend(eventId));
  io.err(`${eventId}: ${scheduled} delivery attempt(s) scheduled`);
  io.out(String(scheduled));
};

/** The command named by the first two words, and the rest of the arguments. */
export function resolveCommand(argv: string[]): [Command, string[]] {
  const name = argv.slice(0, 2).join(' ');
  const command = COMMANDS[name];
  if (!command) throw new UsageError(argv.length === 0 ? 'no command given' : `unknown command "${name}"`);
  return [command, argv.slice(2)];
}
