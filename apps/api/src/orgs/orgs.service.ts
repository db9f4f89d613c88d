import { Injectable } from '@nestjs/common';
import type { OrgContext } from '@credits/auth';
import { NotFoundError, ValidationError } from '@credits/errors';
import { ListMembersQuery, OrganizationMemberPage, OrganizationResponse } from './orgs.dto';
import { OrgsRepository } from './orgs.repository';

/** A page resumes after this member; opaque to callers so the order can change without breaking them. */
function encodeCursor(email: string): string {
  return Buffer.from(JSON.stringify({ e: email })).toString('base64url');
}

function decodeCursor(cursor: string): string {
  let email: unknown;
  try {
    email = (JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { e?: unknown }).e;
  } catch {
    email = undefined;
  }
  if (typeof email === 'string' && email !== '') return email;
  throw new ValidationError([{ loc: ['query', 'cursor'], msg: 'Invalid cursor', type: 'value_error' }]);
}

@Injectable()
export class OrgsService {
  constructor(private readonly orgs: OrgsRepository) {}

  async organization(org: OrgContext): Promise<OrganizationResponse> {
    const row = await this.orgs.organization(org.id);
    // Deleted between the membership check and this read: gone, like any unknown org.
    if (!row) throw new NotFoundError('Organization not found');
    return { id: row.id, slug: row.slug, name: row.name, role: org.role, created_at: row.createdAt.toISOString() };
  }

  async members(orgId: string, query: ListMembersQuery): Promise<OrganizationMemberPage> {
    const afterEmail = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    // One extra row tells whether another page follows.
    const rows = await this.orgs.members(orgId, { limit: query.limit + 1, afterEmail });
    const page = rows.slice(0, query.limit);
    const hasMore = rows.length > query.limit;
    return {
      data: page.map((row) => ({
        user_id: row.userId,
        email: row.email,
        role: row.role,
        created_at: row.createdAt.toISOString(),
      })),
      has_more: hasMore,
      next_cursor: hasMore ? encodeCursor(page[page.length - 1].email) : null,
    };
  }
}
