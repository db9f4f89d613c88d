import { Injectable, Optional } from '@nestjs/common';
import { and, eq } from 'drizzle-orm';
import { Db, InjectDb, memberships, organizations, users } from '@credits/database';
import type { OrgContext } from '@credits/identity';
import { CredentialCache } from '../credential-cache/credential-cache';
import { DirectoryUser, OrgDirectory } from './org-directory';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$/;

@Injectable()
export class DatabaseOrgDirectory extends OrgDirectory {
  constructor(
    @InjectDb() private readonly db: Db,
    @Optional() private readonly cache?: CredentialCache,
  ) {
    super();
  }

  /** A JWT subject's user; cached when found (an unknown subject is asked again each time). */
  async findUser(idOrEmail: string): Promise<DirectoryUser | undefined> {
    const column = UUID.test(idOrEmail) ? users.id : users.email;
    const value = UUID.test(idOrEmail) ? idOrEmail.toLowerCase() : idOrEmail.trim().toLowerCase();
    const id = `subject:${value}`;
    const hit = this.cache?.get<DirectoryUser>(id);
    if (hit) return hit.value;
    const ticket = this.cache?.ticket();
    const [user] = await this.db
      .select({ id: users.id, email: users.email })
      .from(users)
      .where(eq(column, value))
      .limit(1);
    if (user) this.cache?.set(ticket, id, user, { userId: user.id });
    return user;
  }

  /**
   * Cached, "not a member" included, per user and slug: a membership added or removed names
   * the user, so it drops both.
   */
  async findMemberOrg(slug: string, userId: string): Promise<OrgContext | undefined> {
    if (!SLUG_PATTERN.test(slug)) return undefined;
    const id = `member:${userId}:${slug}`;
    const hit = this.cache?.get<OrgContext | null>(id);
    if (hit) return hit.value ?? undefined;
    const ticket = this.cache?.ticket();
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
    this.cache?.set(ticket, id, row ?? null, { userId, orgId: row?.id });
    return row;
  }
}
