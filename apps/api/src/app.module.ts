import { DynamicModule, Module, ModuleMetadata } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AuthModule } from '@credits/auth';
import { AppConfig } from '@credits/config';
import { JobsModule } from '@credits/jobs';
import { BillingModule, REDIRECT_URL_POLICY, RedirectUrlPolicy } from '@credits/billing';
import { TrafficModule } from '@credits/traffic';
import { AllExceptionsFilter, RequestValidationPipe, VALIDATION_CONTEXT } from '@credits/errors';
import { configAndDatabase } from './database.imports';
import { HealthController } from './health/health.controller';
import { ShutdownState } from './health/shutdown-state';
import { OrgsModule } from './orgs/orgs.module';
import { logsAt } from './logging/logger';

@Module({})
export class AppModule {
  /** `extra` lets tests mount their own controllers on the fully wired app. */
  static forRoot(config: AppConfig, extra: ModuleMetadata['imports'] = []): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ...configAndDatabase(config),
        // Background jobs: idle (no schema, no query, no timer) until a module declares a job.
        JobsModule.forRoot({
          pollingIntervalSeconds: config.jobs.pollIntervalMs / 1000,
          finishedJobDays: config.retention.finishedJobDays,
        }),
        TrafficModule,
        AuthModule,
        BillingModule,
        OrgsModule,
        ...extra,
      ],
      controllers: [HealthController],
      providers: [
        ShutdownState,
        {
          provide: APP_FILTER,
          useValue: new AllExceptionsFilter({ logRejections: logsAt(config, 'debug') }),
        },
        {
          provide: VALIDATION_CONTEXT,
          useValue: {
            [REDIRECT_URL_POLICY]: new RedirectUrlPolicy(
              config.checkout.allowedRedirectHosts,
              config.checkout.requireHttpsRedirects,
            ),
          },
        },
        { provide: APP_PIPE, useClass: RequestValidationPipe },
      ],
    };
  }
}
