import { Injectable } from '@nestjs/common';
import { createRemoteJWKSet, errors as joseErrors, JWTPayload, jwtVerify, JWTVerifyGetKey } from 'jose';
import { InjectConfig, type AppConfig } from '@credits/config';
import { AuthenticationError, ExpiredTokenError, RefusedCredentialError } from '@credits/errors';
import type { Principal } from '@credits/identity';
import { OrgDirectory } from '../directory/org-directory';

/**
 * Verifies bearer JWTs: HS256 with `JWT_SECRET`, or RS256/ES256 keys from `JWT_JWKS_URL`.
 * `sub` names the user: its id (UUID) or its email address.
 */
@Injectable()
export class JwtVerifier {
  private readonly secret?: Uint8Array;
  private readonly jwks?: JWTVerifyGetKey;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly directory: OrgDirectory,
  ) {
    if (config.jwt.secret) this.secret = new TextEncoder().encode(config.jwt.secret);
    if (config.jwt.jwksUrl) this.jwks = createRemoteJWKSet(config.jwt.jwksUrl, { timeoutDuration: 5000 });
  }

  get enabled(): boolean {
    return Boolean(this.secret || this.jwks);
  }

  async verify(token: string): Promise<Principal> {
    if (!this.enabled) throw new AuthenticationError('Invalid credentials');
    const payload = await this.verifySignature(token);
    // Past the signature, the token is ours: what refuses it now is about this credential.
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new RefusedCredentialError('Token has no subject');
    const user = await this.directory.findUser(payload.sub);
    if (!user) throw new RefusedCredentialError('Unknown user');
    return { kind: 'user', userId: user.id, email: user.email, via: 'jwt', callerId: user.id, scopes: null };
  }

  private async verifySignature(token: string): Promise<JWTPayload> {
    const options = {
      issuer: this.config.jwt.issuer,
      audience: this.config.jwt.audience,
      clockTolerance: this.config.jwt.clockToleranceSec,
      // A token without an expiry would be valid forever.
      requiredClaims: ['exp'],
    };
    try {
      // A token is tried against the JWKS (asymmetric) or the shared secret (HS256), never
      // with an algorithm the key was not meant for.
      if (this.jwks) {
        const header = decodeAlgorithm(token);
        if (header !== 'HS256' || !this.secret) {
          return (await jwtVerify(token, this.jwks, { ...options, algorithms: ['RS256', 'ES256'] })).payload;
        }
      }
      return (await jwtVerify(token, this.secret!, { ...options, algorithms: ['HS256'] })).payload;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new ExpiredTokenError('Token has expired');
      throw new AuthenticationError('Invalid token');
    }
  }
}

function decodeAlgorithm(token: string): string | undefined {
  try {
    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')) as { alg?: unknown };
    return typeof header.alg === 'string' ? header.alg : undefined;
  } catch {
    return undefined;
  }
}
