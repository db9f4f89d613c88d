import { DynamicModule, INestApplicationContext, Module } from '@nestjs/common';
// Each from its own file, not from the libraries' index: a command answers in well under a
// second when it does not load the HTTP stack (Fastify, Swagger, validation, Stripe) first.
import { DirectoryAdmin } from '@credits/auth/admin/directory-admin';
import { LedgerRepository } from '@credits/billing/ledger/ledger.repository';
import { AppConfig } from '@credits/config';
import { DB, Db } from '@credits/database';
import { configAndDatabase } from '../database.imports';

/**
 * What the admin CLI runs on: the server's configuration and database, and the services its
 * commands call. Only these: no HTTP server, no Redis, no guards (which `BillingModule`'s
 * controllers would bring), so the context boots in milliseconds. Commands that touch the
 * ledger, notifications or Stripe add `billing` (see `billingImports`).
 */
@Module({})
export class CliModule {
  static forRoot(config: AppConfig, billing: DynamicModule['imports'] = []): DynamicModule {
    return {
      module: CliModule,
      // One command at a time: a second connection only for a read beside a transaction.
      // One command reads a few pages: the embedded database's default buffer cache (128MB,
      // zeroed at each start) would cost every command about 0.3 s.
      imports: [...configAndDatabase(config, { poolMax: 2, pgliteSharedBuffers: '8MB' }), ...billing],
      providers: [
        { provide: DirectoryAdmin, useFactory: (db: Db) => new DirectoryAdmin(db), inject: [DB] },
        // Reading balances and entries needs no more than the database.
        LedgerRepository,
      ],
    };
  }
}

/**
 * The ledger, notifications, reconciliation and audit, for the commands that need them: the
 * ledger writes each entry's notification events, and queues their delivery, in its own
 * transaction, so these bring the job queue (sending only: the server's workers deliver) and
 * the Stripe client. Loaded on demand, so the other commands stay fast.
 */
export async function loadBilling() {
  const [{ JobsModule }, { FulfilmentModule }, adjustments, notifications, reconciliation, audit] = await Promise.all([
    import('@credits/jobs/jobs.module'),
    import('@credits/billing/fulfilment/fulfilment.module'),
    import('@credits/billing/ledger/admin-adjustments'),
    import('@credits/billing/notifications/notification-endpoints.service'),
    import('@credits/billing/reconciliation/reconciliation.service'),
    import('@credits/billing/reconciliation/ledger-audit.service'),
  ]);
  return {
    imports: [JobsModule.forRoot({ work: false }), FulfilmentModule],
    services: (context: INestApplicationContext) => ({
      adjustments: context.get(adjustments.AdminAdjustments),
      notifications: context.get(notifications.NotificationEndpoints),
      reconciliation: context.get(reconciliation.ReconciliationService),
      audit: context.get(audit.LedgerAuditService),
    }),
  };
}
