import { isatty } from 'node:tty';
import { LoggerService } from '@nestjs/common';
import pino, { Logger as Pino } from 'pino';
import type { PrettyOptions } from 'pino-pretty';
import type { AppConfig } from '@credits/config';
import { requestLogFields } from '../http/request-context';

/** Credentials that must never reach a log line, whatever field they hide in. */
const SECRET_PATTERNS: [RegExp, string][] = [
  // Stops at a backslash too: lines are JSON, and `\"` must survive the scrub.
  [/Bearer\s+[^\s"',\\]+/gi, 'Bearer [redacted]'],
  [/\bck_[A-Za-z0-9]{8}_[A-Za-z0-9_-]+/g, 'ck_[redacted]'],
  [/\beyJ[\w-]+\.[\w-]+\.[\w-]*/g, '[redacted-jwt]'],
  [/\b(sk|rk)_(test|live)_[A-Za-z0-9]+/g, '$1_$2_[redacted]'],
  [/\bwhsec_[A-Za-z0-9]+/g, 'whsec_[redacted]'],
];

export function scrubSecrets(text: string): string {
  return SECRET_PATTERNS.reduce((acc, [pattern, replacement]) => acc.replace(pattern, replacement), text);
}

/**
 * Pretty, coloured lines for a developer at a terminal (`npm start`, the CLI's warnings); JSON
 * lines everywhere else, for machines: production, CI, tests, and any output that is not a
 * terminal (a file, a pipe, a log collector).
 */
export function wantsPrettyLogs(env: AppConfig['env'], isTerminal: boolean, ci: string | undefined): boolean {
  const inCi = Boolean(ci) && !['false', '0'].includes(ci!.toLowerCase());
  return env === 'development' && isTerminal && !inCi;
}

const PRETTY: PrettyOptions = {
  colorize: true,
  translateTime: 'SYS:HH:MM:ss.l',
  // One line per entry (an error's stack still gets its own lines), its context up front.
  singleLine: true,
  messageFormat: '{if context}[{context}] {end}{msg}',
  ignore: 'pid,hostname,service,context',
};

/**
 * A destination that prettifies each line, or undefined when pino-pretty is not installed (a
 * development dependency: a production install has no use for it). The secret scrubbing of
 * `createPino` runs before any destination, this one included.
 */
export function prettyDestination(out: { write(text: string): unknown }): pino.DestinationStream | undefined {
  let prettyFactory: typeof import('pino-pretty').prettyFactory;
  try {
    // Loaded only when wanted: it costs a terminal-less process (tests, the bench) nothing.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ({ prettyFactory } = require('pino-pretty') as typeof import('pino-pretty'));
  } catch {
    return undefined;
  }
  const pretty = prettyFactory(PRETTY);
  return { write: (line: string) => out.write(pretty(line)) };
}

export interface LogDestinationOptions {
  /** 1 (stdout, the service's) or 2 (stderr: the CLI's stdout is its output). Default 1. */
  fd?: 1 | 2;
  /** Write each line before returning: for a short-lived process that exits right after. */
  sync?: boolean;
}

/** Where the service's (or the CLI's) log lines go: see `wantsPrettyLogs`. */
export function logDestination(config: AppConfig, { fd = 1, sync = false }: LogDestinationOptions = {}) {
  const pretty = wantsPrettyLogs(config.env, isatty(fd), process.env.CI)
    ? prettyDestination(fd === 1 ? process.stdout : process.stderr)
    : undefined;
  return pretty ?? pino.destination({ fd, sync });
}

/**
 * Whether `LOG_LEVEL` shows lines of `level`. A line it does not show is not built at all
 * where it would be built per request (the access line, a refused request's line).
 */
export function logsAt(config: AppConfig, level: pino.Level): boolean {
  const shown = config.log.level;
  return shown !== 'silent' && pino.levels.values[shown] <= pino.levels.values[level];
}

export function createPino(config: AppConfig, destination?: pino.DestinationStream): Pino {
  return pino(
    {
      level: config.log.level,
      base: { service: 'credits-api' },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      mixin: requestLogFields,
      redact: {
        paths: [
          'authorization',
          '*.authorization',
          '*.headers.authorization',
          '*.headers["stripe-signature"]',
          'token',
          '*.token',
          'apiKey',
          'secret',
        ],
        censor: '[redacted]',
      },
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        // The last line of defence: a secret inside a message or an error text is masked.
        streamWrite: (line) => scrubSecrets(line),
      },
    },
    destination ?? logDestination(config),
  );
}

/** Nest's LoggerService on top of pino, so framework and application lines share one format. */
export class PinoLoggerService implements LoggerService {
  constructor(readonly pino: Pino) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: pino.Level, message: unknown, params: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    // Nest appends the logger's context name last.
    const context =
      params.length > 0 && typeof params[params.length - 1] === 'string' ? (params.pop() as string) : undefined;
    if (message instanceof Error) {
      this.pino[level]({ context, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      const { msg, ...fields } = message as { msg?: string };
      this.pino[level]({ context, ...fields }, msg ?? '');
    } else {
      // Nest's `error(message, stack)` form.
      const stack = level === 'error' && typeof params[0] === 'string' ? params[0] : undefined;
      this.pino[level]({ context, ...(stack ? { stack } : {}) }, String(message));
    }
  }
}
