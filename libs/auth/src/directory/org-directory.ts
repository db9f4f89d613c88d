import type { MemberRole } from '@credits/database';
import type { OrgContext } from '@credits/identity';

export interface DirectoryUser {
  id: string;
  email: string;
}

/**
 * How the API learns about organizations, users and memberships. The default reads this
 * service's own tables; a host backend that already owns them can provide its own
 * implementation under this class token.
 */
export abstract class OrgDirectory {
  /** The user a JWT `sub` names: a user id (UUID) or an email address. */
  abstract findUser(idOrEmail: string): Promise<DirectoryUser | undefined>;

  /** The org with this slug if the user is a member of it, with the user's role. */
  abstract findMemberOrg(slug: string, userId: string): Promise<OrgContext | undefined>;
}

export const ROLE_RANK: Record<MemberRole, number> = { member: 0, admin: 1, owner: 2 };
