import { Injectable } from '@nestjs/common';
import { and, asc, count, eq, gt, isNull, sql } from 'drizzle-orm';
import { Db, type DbTransaction, InjectDb, memberships, organizations, rows, users } from '@credits/database';

type Organization = typeof organizations.$inferSelect;

/**
 * The one place organizations are read and written: the org routes (an org and its members),
 * billing (its Stripe customer), the operators' directory (create, find by slug, list).
 * Methods on one org take its id first.
 */
@Injectable()
export class OrganizationsRepository {
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

  async memberCount(orgId: string): Promise<number> {
    const [row] = await this.db.select({ members: count() }).from(memberships).where(eq(memberships.orgId, orgId));
    return row.members;
  }

  async stripeCustomerId(orgId: string): Promise<string | null> {
    const [row] = await this.db
      .select({ id: organizations.stripeCustomerId })
      .from(organizations)
      .where(eq(organizations.id, orgId));
    return row?.id ?? null;
  }

  /** Stores the org's Stripe customer unless it has one already; false then. */
  async storeStripeCustomerId(orgId: string, customerId: string): Promise<boolean> {
    const updated = await this.db
      .update(organizations)
      .set({ stripeCustomerId: customerId })
      .where(and(eq(organizations.id, orgId), isNull(organizations.stripeCustomerId)))
      .returning({ id: organizations.id });
    return updated.length > 0;
  }

  /** Whether the org and the user exist, in one round trip. */
  async exist(orgId: string, userId: string): Promise<{ org: boolean; user: boolean }> {
    const [row] = await rows<{ org_exists: boolean; user_exists: boolean }>(
      this.db,
      sql`select exists (select 1 from ${organizations} where ${organizations.id} = ${orgId}::uuid) as org_exists,
                 exists (select 1 from ${users} where ${users.id} = ${userId}::uuid) as user_exists`,
    );
    return { org: row?.org_exists === true, user: row?.user_exists === true };
  }

  /** A new org, in the caller's transaction (a unique violation when the slug is taken). */
  async insert(tx: DbTransaction, slug: string, name: string): Promise<Organization> {
    const [org] = await tx.insert(organizations).values({ slug, name }).returning();
    return org;
  }

  async bySlug(slug: string): Promise<Organization | undefined> {
    const [org] = await this.db.select().from(organizations).where(eq(organizations.slug, slug));
    return org;
  }

  /** Every org with its number of members, by slug. */
  async list() {
    return this.db
      .select({
        id: organizations.id,
        slug: organizations.slug,
        name: organizations.name,
        members: count(memberships.userId),
        createdAt: organizations.createdAt,
      })
      .from(organizations)
      .leftJoin(memberships, eq(memberships.orgId, organizations.id))
      .groupBy(organizations.id)
      .orderBy(asc(organizations.slug));
  }
}
