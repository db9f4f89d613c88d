import { Global, Module } from '@nestjs/common';
import { ApiKeyVerifier } from './api-keys/api-key-verifier';
import { DatabaseOrgDirectory } from './directory/database-org-directory';
import { OrgDirectory } from './directory/org-directory';
import { AuthGuard } from './guards/auth.guard';
import { OrgAccessGuard } from './guards/org-access.guard';
import { JwtVerifier } from './jwt/jwt-verifier';

@Global()
@Module({
  providers: [
    ApiKeyVerifier,
    JwtVerifier,
    AuthGuard,
    OrgAccessGuard,
    { provide: OrgDirectory, useClass: DatabaseOrgDirectory },
  ],
  exports: [ApiKeyVerifier, JwtVerifier, AuthGuard, OrgAccessGuard, OrgDirectory],
})
export class AuthModule {}
