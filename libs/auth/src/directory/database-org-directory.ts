import { Injectable, Optional } from '@nestjs/common';
import type { OrgContext } from '@credits/identity';
import { CredentialCache } from '../credential-cache/credential-cache';
import { MembersRepository } from './members.repository';
import { DirectoryUser, OrgDirectory } from './org-directory';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$/;

@Injectable()
export class DatabaseOrgDirectory extends OrgDirectory {
  constructor(
    private readonly members: MembersRepository,
    @Optional() private readonly cache?: CredentialCache,
  ) {
    super();
  }

  /** A JWT subject's user; cached when found (an unknown subject is asked again each time). */
  async findUser(idOrEmail: string): Promise<DirectoryUser | undefined> {
    const byId = UUID.test(idOrEmail);
    const value = byId ? idOrEmail.toLowerCase() : idOrEmail.trim().toLowerCase();
    const id = `subject:${value}`;
    const hit = this.cache?.get<DirectoryUser>(id);
    if (hit) return hit.value;
    const ticket = this.cache?.ticket();
    const user = await this.members.findUser(byId ? { id: value } : { email: value });
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
    const row = await this.members.findMemberOrg(slug, userId);
    this.cache?.set(ticket, id, row ?? null, { userId, orgId: row?.id });
    return row;
  }
}
