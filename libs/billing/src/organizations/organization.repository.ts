import { Injectable } from '@nestjs/common';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { Db, InjectDb, organizations, rows, users } from '@credits/database';

/** What billing needs of an organization: its Stripe customer, and whether it exists. */
@Injectable()
export class OrganizationRepository {
  constructor(@InjectDb() private readonly db: Db) {}

  async stripeCustomerId(orgId: string): Promise<string | null> {
    const [row] = await this.db
      .select({ id: organizations.stripeCustomerId })
      .from(organizations)
      .where(eq(organizations.id, orgId));
    return row?.id ?? null;
  }

  /** Stores the org's Stripe customer unless one is stored already; true when this one was. */
  async storeStripeCustomerId(orgId: string, customerId: string): Promise<boolean> {
    const updated = await this.db
      .update(organizations)
      .set({ stripeCustomerId: customerId })
      .where(and(eq(organizations.id, orgId), isNull(organizations.stripeCustomerId)))
      .returning({ id: organizations.id });
    return updated.length > 0;
  }

  /** Whether the org exists, and the user (ids as UUIDs): what a session rebuilt from Stripe may name. */
  async exist(orgId: string, userId: string): Promise<{ org: boolean; user: boolean }> {
    const [row] = await rows<{ org_exists: boolean; user_exists: boolean }>(
      this.db,
      sql`select exists (select 1 from ${organizations} where ${organizations.id} = ${orgId}::uuid) as org_exists,
                 exists (select 1 from ${users} where ${users.id} = ${userId}::uuid) as user_exists`,
    );
    return { org: row?.org_exists === true, user: row?.user_exists === true };
  }
}
