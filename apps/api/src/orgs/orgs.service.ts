import { Injectable } from '@nestjs/common';
import type { OrgContext } from '@credits/auth';
import { NotFoundError } from '@credits/errors';
import { CursorCodec } from '@credits/pagination';
import { OrganizationsRepository } from '@credits/auth/directory/organizations.repository';
import { ListMembersQuery, OrganizationMemberPage, OrganizationResponse } from './orgs.dto';

/** A page resumes after this member's email (unique, stored lower-cased). */
const memberCursor = new CursorCodec<string>(
  'e',
  (value): value is string => typeof value === 'string' && value !== '',
);

@Injectable()
export class OrgsService {
  constructor(private readonly orgs: OrganizationsRepository) {}

  async organization(org: OrgContext): Promise<OrganizationResponse> {
    const row = await this.orgs.organization(org.id);
    // Deleted between the membership check and this read: gone, like any unknown org.
    if (!row) throw new NotFoundError('Organization not found');
    return { id: row.id, slug: row.slug, name: row.name, role: org.role, created_at: row.createdAt.toISOString() };
  }

  async members(orgId: string, query: ListMembersQuery): Promise<OrganizationMemberPage> {
    const afterEmail = query.cursor === undefined ? undefined : memberCursor.decode(query.cursor);
    const rows = await this.orgs.members(orgId, { limit: query.limit + 1, afterEmail });
    return memberCursor.page(
      rows,
      query.limit,
      (row) => ({ user_id: row.userId, email: row.email, role: row.role, created_at: row.createdAt.toISOString() }),
      (row) => row.email,
    );
  }
}
