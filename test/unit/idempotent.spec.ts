import 'reflect-metadata';
import { Controller, INestApplication, Post } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Test } from '@nestjs/testing';
import { registerIdempotentAnswers, type IdempotentResult } from '@credits/billing';
import { AllExceptionsFilter } from '@credits/errors';
import { Idempotent } from '../../libs/billing/src/idempotency/idempotency-key.decorator';

/** Stands in for a service: the key `seen` is one whose first answer is stored. */
function answer(key: string | undefined): Promise<IdempotentResult<{ key: string | null }>> {
  return Promise.resolve({ body: { key: key ?? null }, replayed: key === 'seen' });
}

@Controller('things')
class ThingsController {
  @Post('optional')
  optional(@Idempotent() key: string | undefined) {
    return answer(key);
  }

  @Post('required')
  required(@Idempotent({ required: true }) key: string) {
    return answer(key);
  }

  @Post('not-a-result')
  notAResult(@Idempotent() key: string | undefined) {
    return { key };
  }
}

/** `@Idempotent()` on a small app with the real filter: the header's rules, the replay header, the document. */
describe('@Idempotent()', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      controllers: [ThingsController],
      providers: [{ provide: APP_FILTER, useClass: AllExceptionsFilter }],
    }).compile();
    const adapter = new FastifyAdapter();
    registerIdempotentAnswers(adapter.getInstance());
    app = moduleRef.createNestApplication<NestFastifyApplication>(adapter, { logger: false });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(() => app?.close());

  const post = async (path: string, headers: Record<string, string> = {}) => {
    const res = await app.inject({ method: 'POST', url: `/things/${path}`, headers });
    return { status: res.statusCode, headers: res.headers, body: res.json<Record<string, unknown>>() };
  };
  const keyError = (msg: string, type: string) => ({
    code: 422,
    detail: 'Request validation failed',
    errors: [{ loc: ['header', 'idempotency-key'], msg, type }],
    type: 'validation_error',
  });

  it('passes an optional key that is absent as undefined, with no replay header', async () => {
    const res = await post('optional');
    expect(res).toMatchObject({ status: 201, body: { key: null } });
    expect(res.headers['idempotent-replayed']).toBeUndefined();
  });

  it('passes the key to the handler and answers the result body', async () => {
    const res = await post('optional', { 'idempotency-key': 'k-1' });
    expect(res).toMatchObject({ status: 201, body: { key: 'k-1' } });
    expect(res.headers['idempotent-replayed']).toBeUndefined();
  });

  it('sets Idempotent-Replayed: true when the service replayed the stored answer', async () => {
    for (const path of ['optional', 'required']) {
      const res = await post(path, { 'idempotency-key': 'seen' });
      expect(res).toMatchObject({ status: 201, body: { key: 'seen' } });
      expect(res.headers['idempotent-replayed']).toBe('true');
    }
  });

  it('with { required: true }, refuses a request without the header: 422 missing at ["header","idempotency-key"]', async () => {
    const res = await post('required');
    expect(res.status).toBe(422);
    expect(res.body).toEqual(keyError('Field required', 'missing'));
    expect((await post('required', { 'idempotency-key': 'k-2' })).body).toEqual({ key: 'k-2' });
  });

  it.each([
    ['too long', 'x'.repeat(256), 'string_too_long'],
    ['not printable ASCII', 'caf\u00e9 key', 'string_pattern_mismatch'],
    ['empty', '', 'string_too_short'],
  ])('refuses a key that is %s, whether required or not', async (_what, key, type) => {
    for (const path of ['optional', 'required']) {
      const res = await post(path, { 'idempotency-key': key });
      expect([path, res.status, res.body.errors]).toEqual([path, 422, [expect.objectContaining({ type })]]);
    }
  });

  it('answers 500, not the raw value, when a handler returns something other than an IdempotentResult', async () => {
    const res = await post('not-a-result', { 'idempotency-key': 'k-3' });
    expect(res).toMatchObject({ status: 500, body: { type: 'internal_error' } });
  });

  it('documents the header (required or not) and the 409 and 422 answers', () => {
    const doc = SwaggerModule.createDocument(app as INestApplication, new DocumentBuilder().build());
    for (const [path, required] of [
      ['/things/optional', false],
      ['/things/required', true],
    ] as const) {
      const operation = doc.paths[path].post!;
      expect(operation.parameters).toEqual([
        expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required }),
      ]);
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['409', '422']));
    }
  });
});
