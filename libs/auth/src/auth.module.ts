import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@credits/config';
import { ApiKeyVerifier } from './api-keys/api-key-verifier';
import { ApiKeyUsage } from './credential-cache/api-key-usage';
import { CredentialCache } from './credential-cache/credential-cache';
import { CredentialChangeListener } from './credential-cache/credential-change-listener';
import { DatabaseOrgDirectory } from './directory/database-org-directory';
import { MembersRepository } from './directory/members.repository';
import { ApiKeysRepository } from './api-keys/api-keys.repository';
import { OrgDirectory } from './directory/org-directory';
import { AuthGuard } from './guards/auth.guard';
import { OrgAccessGuard } from './guards/org-access.guard';
import { JwtVerifier } from './jwt/jwt-verifier';

@Global()
@Module({
  providers: [
    {
      provide: CredentialCache,
      useFactory: (config: AppConfig) => new CredentialCache(config.credentialCache),
      inject: [APP_CONFIG],
    },
    CredentialChangeListener,
    ApiKeyUsage,
    ApiKeysRepository,
    ApiKeyVerifier,
    MembersRepository,
    JwtVerifier,
    AuthGuard,
    OrgAccessGuard,
    { provide: OrgDirectory, useClass: DatabaseOrgDirectory },
  ],
  exports: [CredentialCache, ApiKeyUsage, ApiKeyVerifier, JwtVerifier, AuthGuard, OrgAccessGuard, OrgDirectory],
})
export class AuthModule {}
