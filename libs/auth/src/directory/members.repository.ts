import { Injectable } from '@nestjs/common';
import { and, eq } from 'drizzle-orm';
import { Db, InjectDb, memberships, organizations, users } from '@credits/database';
import type { OrgContext } from '@credits/identity';
import type { DirectoryUser } from './org-directory';

/** Users and their memberships as the request path reads them (the org directory). */
@Injectable()
export class MembersRepository {
  constructor(@InjectDb() private readonly db: Db) {}

  /** The user with this id, or with this email (already normalised by the caller). */
  async findUser(by: { id: string } | { email: string }): Promise<DirectoryUser | undefined> {
    const [user] = await this.db
      .select({ id: users.id, email: users.email })
      .from(users)
      .where('id' in by ? eq(users.id, by.id) : eq(users.email, by.email))
      .limit(1);
    return user;
  }

  /** The org with this slug, with the user's role in it; undefined unless the user is a member. */
  async findMemberOrg(slug: string, userId: string): Promise<OrgContext | undefined> {
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
