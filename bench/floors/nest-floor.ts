/**
 * The floors on bare Nest: the Fastify adapter, one controller handing each request to
 * `floor-work.ts`, and nothing else (no guards, pipes, interceptors, filters, hooks or logger).
 * Beside the Fastify floor in the same run, it shows what Nest itself costs; the API against
 * its same-work routes shows what our own code costs.
 */
import 'reflect-metadata';
import { Body, Controller, Get, Headers, Inject, Module, Param, Post, Res } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import { type Answer, type CheckoutBody, type FloorWork, floorWork } from './floor-work';
import { serveUntilSignalled } from './serve';

const FLOOR_WORK = Symbol('FLOOR_WORK');

/** Sets the answer's status on the reply and returns its body for Nest to send. */
function answered(reply: FastifyReply, answer: Answer): unknown {
  void reply.status(answer.status);
  return answer.body;
}

@Controller()
class FloorController {
  constructor(@Inject(FLOOR_WORK) private readonly work: FloorWork) {}

  @Get('healthz')
  health() {
    return { status: 'ok' };
  }

  @Post('checkout')
  async checkout(
    @Body() body: CheckoutBody,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return answered(reply, await this.work.checkout(body, key));
  }

  @Post('invalid')
  invalid(@Res({ passthrough: true }) reply: FastifyReply) {
    return answered(reply, this.work.invalid());
  }

  @Get('balance')
  async balance(@Res({ passthrough: true }) reply: FastifyReply) {
    return answered(reply, await this.work.balance());
  }

  @Post('usage/:i')
  async usage(
    @Param('i') i: string,
    @Body() body: { amount: number },
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return answered(reply, await this.work.usage(Number(i), body.amount, key));
  }

  @Post('same/checkout')
  async sameCheckout(
    @Headers('authorization') authorization: string | undefined,
    @Headers('idempotency-key') key: string,
    @Body() body: CheckoutBody,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return answered(reply, await this.work.sameCheckout(authorization, body, key));
  }

  @Post('same/invalid')
  async sameInvalid(
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return answered(reply, await this.work.sameInvalid(authorization));
  }

  @Get('same/balance')
  async sameBalance(
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return answered(reply, await this.work.sameBalance(authorization));
  }
}

async function main(): Promise<void> {
  const work = floorWork(process.env);

  @Module({ controllers: [FloorController], providers: [{ provide: FLOOR_WORK, useValue: work }] })
  class FloorModule {}

  const app = await NestFactory.create<NestFastifyApplication>(FloorModule, new FastifyAdapter(), { logger: false });
  await serveUntilSignalled({
    listen: (port) => app.listen(port, '127.0.0.1'),
    close: async () => {
      await app.close();
      await work.close();
    },
  });
}

void main().catch((err: unknown) => {
  process.stderr.write(`nest-floor: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
