export * from './app-config';
export * from './config.module';
export { ConfigError, Env } from './env-reader';
