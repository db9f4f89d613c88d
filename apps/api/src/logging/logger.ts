import { LoggerService } from '@nestjs/common';
import pino, { Logger as Pino } from 'pino';
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
    destination ?? pino.destination({ sync: false }),
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
