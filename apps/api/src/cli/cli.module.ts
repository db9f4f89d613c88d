import { DynamicModule, Module } from '@nestjs/common';
// Each from its own file, not from the libraries' index: a command answers in well under a
// second when it does not load the HTTP stack (Fastify, Swagger, validation, Stripe) first.
import { DirectoryAdmin } from '@credits/auth/admin/directory-admin';
import { LedgerRepository } from '@credits/billing/ledger/ledger.repository';
import { LedgerService } from '@credits/billing/ledger/ledger.service';
import { AppConfig } from '@credits/config';
import { DB, Db } from '@credits/database';
import { configAndDatabase } from '../database.imports';

/**
 * What the admin CLI runs on: the server's configuration and database, and the services its
 * commands call. Only these: no HTTP server, no Stripe client, no Redis, no guards (which
 * `BillingModule`'s controllers would bring), so the context boots in milliseconds.
 */
@Module({})
export class CliModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: CliModule,
      // One command at a time: a second connection only for a read beside a transaction.
      imports: configAndDatabase(config, 2),
      providers: [
        LedgerRepository,
        LedgerService,
        { provide: DirectoryAdmin, useFactory: (db: Db) => new DirectoryAdmin(db), inject: [DB] },
      ],
    };
  }
}
