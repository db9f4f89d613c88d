import { Injectable } from '@nestjs/common';
import { and, eq } from 'drizzle-orm';
import {
  Db,
  type DbTransaction,
  InjectDb,
  type MemberRole,
  memberships,
  organizations,
  users,
} from '@credits/database';
import type { OrgContext } from '@credits/identity';
import type { DirectoryUser } from './org-directory';

/** Users and their memberships: the org directory's reads, the operators' writes. */
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

  /** The user with this (normalised) email, whole. */
  async userByEmail(email: string) {
    const [user] = await this.db.select().from(users).where(eq(users.email, email));
    return user;
  }

  /** A new user (a unique violation when the email is taken). */
  async insertUser(email: string) {
    const [user] = await this.db.insert(users).values({ email }).returning();
    return user;
  }

  /** A new membership, in the caller's transaction (a unique violation when there is one). */
  async insertMembership(tx: DbTransaction, orgId: string, userId: string, role: MemberRole): Promise<void> {
    await tx.insert(memberships).values({ orgId, userId, role });
  }

  /** Deletes the membership in the caller's transaction; its role, or undefined when there was none. */
  async deleteMembership(tx: DbTransaction, orgId: string, userId: string): Promise<MemberRole | undefined> {
    const [removed] = await tx
      .delete(memberships)
      .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId)))
      .returning({ role: memberships.role });
    return removed?.role;
  }
}
