import { Injectable } from '@nestjs/common';
import { and, asc, eq, gt } from 'drizzle-orm';
import { Db, InjectDb, memberships, organizations, users } from '@credits/database';

/** Organizations and their members. Every method takes the org id first: no query without its tenant. */
@Injectable()
export class OrgsRepository {
  constructor(@InjectDb() private readonly db: Db) {}

  async organization(orgId: string) {
    const [org] = await this.db
      .select({
        id: organizations.id,
        slug: organizations.slug,
        name: organizations.name,
        createdAt: organizations.createdAt,
      })
      .from(organizations)
      .where(eq(organizations.id, orgId));
    return org;
  }

  /**
   * Members in email order (emails are unique and stored lower-cased, so the order is total
   * and a page resumes exactly after `afterEmail`).
   */
  async members(orgId: string, page: { limit: number; afterEmail?: string }) {
    return this.db
      .select({ userId: users.id, email: users.email, role: memberships.role, createdAt: memberships.createdAt })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(
        and(eq(memberships.orgId, orgId), page.afterEmail === undefined ? undefined : gt(users.email, page.afterEmail)),
      )
      .orderBy(asc(users.email))
      .limit(page.limit);
  }
}
