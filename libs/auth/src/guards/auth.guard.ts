import { CanActivate, ExecutionContext, Injectable, Optional } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiException, AuthenticationError, ExpiredTokenError, RefusedCredentialError } from '@credits/errors';
import type { OrgContext, Principal } from '@credits/identity';
import { AuthFailureLimiter, type FailedCaller } from '@credits/traffic';
import { looksLikeApiKey } from '../api-keys/api-key-format';
import { ApiKeyVerifier } from '../api-keys/api-key-verifier';
import { DatabaseOrgDirectory } from '../directory/database-org-directory';
import { OrgDirectory } from '../directory/org-directory';
import { JwtVerifier } from '../jwt/jwt-verifier';

const BEARER = /^Bearer ([!-~]{1,4096})$/;

/** The bearer token presented, if the header is well formed. */
function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header === undefined ? undefined : BEARER.exec(header)?.[1];
}

/**
 * Who a failed authentication counts against: a credential we recognised and refused counts
 * against itself, so the other callers behind its address are not locked out; anything else
 * (no credential, a guess) counts against the address.
 */
function failedCaller(request: FastifyRequest, error: ApiException): FailedCaller {
  const token = tokenOf(request);
  const recognised = error instanceof RefusedCredentialError || error instanceof ExpiredTokenError;
  return recognised && token !== undefined
    ? { credential: AuthFailureLimiter.credentialOf(token) }
    : { address: request.ip };
}

/** Accepts `Authorization: Bearer <API key | JWT>` and sets the request's principal. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly apiKeys: ApiKeyVerifier,
    private readonly jwt: JwtVerifier,
    directory: OrgDirectory,
    @Optional() private readonly failures?: AuthFailureLimiter,
  ) {
    this.prefetchOrg = directory instanceof DatabaseOrgDirectory;
  }

  /** With the database directory, an org route's membership is trusted as read with the API key. */
  private readonly prefetchOrg: boolean;

  /** A boolean when the credential cache answers (most requests): then Nest waits on no promise. */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (request.principal) return true;
    this.failures?.assertAllowed(request.ip, () => tokenOf(request));
    return this.fromCache(request) || this.authenticateCounted(request);
  }

  private async authenticateCounted(request: FastifyRequest): Promise<boolean> {
    try {
      await this.authenticate(request);
    } catch (error) {
      const limited =
        error instanceof ApiException && error.getStatus() === 401
          ? await this.failures?.recordFailure(failedCaller(request, error))
          : undefined;
      throw limited ?? error;
    }
    return true;
  }

  /** `authenticate` for an API key on an org route whose answer the credential cache holds. */
  private fromCache(request: FastifyRequest): boolean {
    const token = tokenOf(request);
    const slug = (request.params as Record<string, unknown> | undefined)?.org;
    if (token === undefined || typeof slug !== 'string' || !looksLikeApiKey(token)) return false;
    const cached = this.apiKeys.cachedWithOrg(token, slug);
    if (!cached) return false;
    this.admit(request, slug, cached);
    return true;
  }

  private async authenticate(request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization;
    if (header === undefined || header === '') throw new AuthenticationError('Missing bearer token');
    const token = tokenOf(request);
    if (token === undefined) throw new AuthenticationError('Malformed Authorization header; expected "Bearer <token>"');
    const slug = (request.params as Record<string, unknown> | undefined)?.org;
    if (looksLikeApiKey(token) && typeof slug === 'string') {
      this.admit(request, slug, await this.apiKeys.verifyWithOrg(token, slug));
    } else {
      request.principal = looksLikeApiKey(token) ? await this.apiKeys.verify(token) : await this.jwt.verify(token);
    }
  }

  private admit(
    request: FastifyRequest,
    slug: string,
    { principal, org }: { principal: Principal; org: OrgContext | undefined },
  ): void {
    request.principal = principal;
    // A service key's orgs live beside the keys whatever the directory; a person's
    // membership is the directory's to say, unless the directory is these same tables.
    if (this.prefetchOrg || principal.kind === 'service') {
      request.prefetchedMembership = { slug, callerId: principal.callerId, org };
    }
  }
}
