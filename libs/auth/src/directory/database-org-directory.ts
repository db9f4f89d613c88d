import { Injectable } from '@nestjs/common';
import { and, eq } from 'drizzle-orm';
import { Db, InjectDb, memberships, organizations, users } from '@credits/database';
import type { OrgContext } from '@credits/identity';
import { DirectoryUser, OrgDirectory } from './org-directory';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$/;

@Injectable()
export class DatabaseOrgDirectory extends OrgDirectory {
  constructor(@InjectDb() private readonly db: Db) {
    super();
  }

  async findUser(idOrEmail: string): Promise<DirectoryUser | undefined> {
    const column = UUID.test(idOrEmail) ? users.id : users.email;
    const value = UUID.test(idOrEmail) ? idOrEmail.toLowerCase() : idOrEmail.trim().toLowerCase();
    const [user] = await this.db
      .select({ id: users.id, email: users.email })
      .from(users)
      .where(eq(column, value))
      .limit(1);
    return user;
  }

  async findMemberOrg(slug: string, userId: string): Promise<OrgContext | undefined> {
    if (!SLUG_PATTERN.test(slug)) return undefined;
    const [row] = await this.db
      .select({
        id: organizations.id,
        slug: organizations.slug,
        name: organizations.name,
        stripeCustomerId: organizations.stripeCustomerId,
        role: memberships.role,
      })
      .from(organizations)
      .innerJoin(memberships, and(eq(memberships.orgId, organizations.id), eq(memberships.userId, userId)))
      .where(eq(organizations.slug, slug))
      .limit(1);
    return row;
  }
}
