import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { lt, valid } from 'semver';
import { InjectConfig, type AppConfig } from '@credits/config';
import { InvalidRequestError, UpgradeRequiredError } from '@credits/errors';

export const CLIENT_VERSION_HEADER = 'x-client-version';

/**
 * `MIN_CLIENT_VERSION`: a client that says it is older (`X-Client-Version`, semver) gets 426
 * naming the minimum; a header that is not a version is a 400 rather than a silent pass, so
 * a broken client notices. No header means no claim, and is served: scripts and curl do not
 * send one. Applies to every caller-facing API route (through `@OrgRole`); probes, the docs
 * and Stripe's webhook are not clients we can ask to upgrade.
 */
@Injectable()
export class ClientVersionGuard implements CanActivate {
  private readonly minimum: string | undefined;

  constructor(@InjectConfig() config: AppConfig) {
    this.minimum = config.minClientVersion;
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.minimum === undefined) return true;
    const header = context.switchToHttp().getRequest<FastifyRequest>().headers[CLIENT_VERSION_HEADER];
    if (header === undefined) return true;
    const version = typeof header === 'string' && header.length <= 64 ? valid(header.trim()) : null;
    if (version === null) {
      throw new InvalidRequestError('X-Client-Version must be a semantic version such as 1.4.0', [
        {
          loc: ['header', CLIENT_VERSION_HEADER],
          msg: 'Input should be a semantic version (MAJOR.MINOR.PATCH)',
          type: 'value_error',
        },
      ]);
    }
    if (lt(version, this.minimum)) {
      throw new UpgradeRequiredError(
        `This client (version ${version}) is no longer supported; upgrade to version ${this.minimum} or later`,
      );
    }
    return true;
  }
}
