export { defineJob } from './job-definition';
export type {
  AnyJobDefinition,
  JobData,
  JobDefinition,
  JobDefinitionInput,
  JobRetryPolicy,
  JobSingleton,
} from './job-definition';
export { JobsModule } from './jobs.module';
export { jobSend, JobsService } from './jobs.service';
export type { JobContext, JobHandler, JobSend, JobsModuleOptions, SendOptions } from './jobs.service';
export { queueDatabase } from './queue-database';
