import { Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { loadConfig } from '@credits/config';
import { InvalidRequestError, sendError } from '@credits/errors';
import { createPino, logsAt, prettyDestination, wantsPrettyLogs } from '../../apps/api/src/logging/logger';

describe('log format', () => {
  it.each([
    ['development', true, undefined, true],
    ['development', true, '', true],
    ['development', true, 'false', true],
    ['development', false, undefined, false],
    ['development', true, 'true', false],
    ['development', true, '1', false],
    ['development', true, 'yes', false],
    ['test', true, undefined, false],
    ['production', true, undefined, false],
  ] as const)('NODE_ENV=%s, a terminal: %s, CI=%j -> pretty: %s', (env, isTerminal, ci, pretty) => {
    expect(wantsPrettyLogs(env, isTerminal, ci)).toBe(pretty);
  });

  it('pretty lines read as text and still never carry a secret', () => {
    let written = '';
    const destination = prettyDestination({ write: (text: string) => (written += text) });
    expect(destination).toBeDefined();
    const log = createPino(loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'info' }), destination);

    log.info({ context: 'HTTP', status: 200, authorization: 'Bearer abc.def' }, 'request completed');
    log.warn({ context: 'Stripe' }, 'Stripe said no to sk_live_51Hx9secret with whsec_abc123');
    log.error({ err: new Error('key ck_AbCdEfGh_0123456789012345678901234567890123456789abc rejected') }, 'failed');

    expect(written).toMatch(/INFO.*\[HTTP\] request completed/);
    expect(written).toMatch(/WARN.*\[Stripe\] Stripe said no to sk_live_\[redacted\] with whsec_\[redacted\]/);
    expect(written).toContain('ck_[redacted]');
    expect(written).not.toMatch(/abc\.def|51Hx9secret|whsec_abc123|0123456789012345/);
    expect(() => JSON.parse(written.split('\n')[0])).toThrow();
  });
});

describe('what a level shows', () => {
  it.each([
    ['trace', 'debug', true],
    ['debug', 'debug', true],
    ['info', 'debug', false],
    ['info', 'info', true],
    ['warn', 'info', false],
    ['silent', 'fatal', false],
  ] as const)('LOG_LEVEL=%s shows %s lines: %s', (shown, level, shows) => {
    expect(logsAt(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: shown }), level)).toBe(shows);
  });
});

describe('a refused request in the log', () => {
  /** Just enough of Fastify's reply for `sendError`; keeps what was sent. */
  const reply = () => {
    const sent: { status?: number; body?: unknown } = {};
    const fake = {
      sent: false,
      status: (status: number) => ((sent.status = status), fake),
      headers: () => fake,
      header: () => fake,
      send: (body: unknown) => ((sent.body = body), fake),
    };
    return { fake: fake as unknown as FastifyReply, sent };
  };

  it.each([
    [true, 1],
    [false, 0],
  ])('logRejections %s: the line is built and logged %i time(s); the answer is the same', (logRejections, lines) => {
    const logger = new Logger('Errors');
    const debug = jest.spyOn(logger, 'debug').mockImplementation(() => undefined);
    const { fake, sent } = reply();
    sendError(fake, new InvalidRequestError('Bad field'), logger, logRejections);
    expect(debug).toHaveBeenCalledTimes(lines);
    if (lines) expect(debug).toHaveBeenCalledWith(expect.objectContaining({ msg: 'request rejected', status: 400 }));
    expect(sent).toMatchObject({ status: 400, body: { type: 'invalid_request_error', detail: 'Bad field' } });
  });
});
