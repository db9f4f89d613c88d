import { grantedScopes, ROLE_SCOPES } from '@credits/auth';
import type { ApiKeyScope, MemberRole } from '@credits/database';
import type { Principal } from '@credits/identity';

const person = (scopes: ApiKeyScope[] | null, via: 'api_key' | 'jwt' = 'api_key'): Principal => ({
  kind: 'user',
  userId: 'u',
  email: 'u@example.test',
  via,
  callerId: 'u',
  scopes,
});
const service = (scopes: ApiKeyScope[]): Principal => ({
  kind: 'service',
  serviceName: 'runner',
  via: 'api_key',
  apiKeyId: 'k',
  callerId: 'k',
  scopes,
});
const ROLES: MemberRole[] = ['member', 'admin', 'owner'];

/** What a caller may do in an org: the rule OrgAccessGuard applies after the role check. */
describe('grantedScopes', () => {
  it("a person's key or token without a list: the role's defaults, never credits:spend", () => {
    expect(grantedScopes(person(null), 'member')).toEqual(['org:read', 'credits:read']);
    expect(grantedScopes(person(null, 'jwt'), 'admin')).toEqual(['org:read', 'credits:read', 'credits:purchase']);
    for (const role of ROLES) expect(grantedScopes(person(null), role)).not.toContain('credits:spend');
  });

  it("a key's list narrows the role's; it may add credits:spend and nothing else the role lacks", () => {
    expect(grantedScopes(person(['credits:read']), 'owner')).toEqual(['credits:read']);
    expect(grantedScopes(person(['credits:purchase', 'credits:read']), 'member')).toEqual(['credits:read']);
    expect(grantedScopes(person(['credits:purchase']), 'admin')).toEqual(['credits:purchase']);
    for (const role of ROLES) {
      expect(grantedScopes(person(['credits:spend', 'org:read']), role)).toEqual(['credits:spend', 'org:read']);
    }
  });

  it('a service key: exactly its own scopes, whatever the role argument', () => {
    expect(grantedScopes(service(['credits:spend']), null)).toEqual(['credits:spend']);
    expect(grantedScopes(service([]), null)).toEqual([]);
  });

  it('admins and owners hold the same defaults; members lack credits:purchase', () => {
    expect(ROLE_SCOPES.owner).toEqual(ROLE_SCOPES.admin);
    expect(ROLE_SCOPES.member).not.toContain('credits:purchase');
  });
});
