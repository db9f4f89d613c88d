export * from './app-config';
export * from './config.module';
export { ConfigError } from './env-reader';
export type { Env } from './env-reader';
