import { type DynamicModule, Global, Module } from '@nestjs/common';
import { JOBS_OPTIONS, type JobsModuleOptions, JobsService } from './jobs.service';

/**
 * Global: import once in the root module, after `DatabaseModule` (whose handle it uses).
 * Feature modules inject `JobsService` to declare handlers and send jobs.
 */
@Global()
@Module({})
export class JobsModule {
  static forRoot(options: JobsModuleOptions = {}): DynamicModule {
    return {
      module: JobsModule,
      global: true,
      providers: [{ provide: JOBS_OPTIONS, useValue: options }, JobsService],
      exports: [JobsService],
    };
  }
}
