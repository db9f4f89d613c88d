import { SetMetadata } from '@nestjs/common';
import type { ApiKeyScope } from '@credits/database';

export const REQUIRED_SCOPES = Symbol('requiredScopes');

/**
 * The scope a key must carry to call the route, beside its `@OrgRole`: `@Scopes('credits:spend')`.
 */
export const Scopes = (...scopes: ApiKeyScope[]): MethodDecorator & ClassDecorator =>
  SetMetadata(REQUIRED_SCOPES, scopes);
