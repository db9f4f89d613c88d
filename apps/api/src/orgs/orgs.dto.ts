import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { PageSizeQuery } from '@credits/pagination';
import { MEMBER_ROLES, type MemberRole } from '@credits/database';

@ApiSchema({ name: 'Organization', description: 'An organization, as seen by one of its members.' })
export class OrganizationResponse {
  @ApiProperty({
    description: 'Organization id',
    type: 'string',
    format: 'uuid',
    example: '0b6f3c5e-2d7a-4f1e-9c3b-8a1d2e4f6a7b',
  })
  id!: string;

  @ApiProperty({ description: 'Organization slug, the `{org}` of its routes', type: 'string', example: 'acme' })
  slug!: string;

  @ApiProperty({ description: 'Display name', type: 'string', example: 'Acme Inc' })
  name!: string;

  @ApiProperty({
    description: "The caller's role in the organization; null for a service key, which holds no role",
    enum: MEMBER_ROLES,
    nullable: true,
    example: 'admin',
  })
  role!: MemberRole | null;

  @ApiProperty({
    description: 'When the organization was created (ISO 8601)',
    type: 'string',
    format: 'date-time',
    example: '2025-01-31T09:30:00.000Z',
  })
  created_at!: string;
}

/** Page size as for every listing (1–100, default 50); the cursor is this listing's own. */
export class ListMembersQuery extends PageSizeQuery {
  @ApiPropertyOptional({ description: "Opaque cursor from the previous page's `next_cursor`", type: 'string' })
  @IsOptional()
  @IsString()
  // It carries the last member's email address (up to 254 characters), base64url-encoded.
  @MaxLength(512)
  cursor?: string;
}

@ApiSchema({ name: 'OrganizationMember', description: 'One member of an organization.' })
export class OrganizationMember {
  @ApiProperty({
    description: "The member's user id",
    type: 'string',
    format: 'uuid',
    example: '5d2e8f1a-7b3c-4e6d-a9f0-1c2b3d4e5f60',
  })
  user_id!: string;

  @ApiProperty({ description: "The member's email address", type: 'string', example: 'alice@acme.test' })
  email!: string;

  @ApiProperty({ description: 'Role in the organization', enum: MEMBER_ROLES, example: 'member' })
  role!: MemberRole;

  @ApiProperty({
    description: 'When the user joined the organization (ISO 8601)',
    type: 'string',
    format: 'date-time',
    example: '2025-02-03T14:05:00.000Z',
  })
  created_at!: string;
}

@ApiSchema({ name: 'OrganizationMemberPage', description: "A page of an organization's members, by email address." })
export class OrganizationMemberPage {
  @ApiProperty({ description: 'Members on this page', type: [OrganizationMember] })
  data!: OrganizationMember[];

  @ApiProperty({ description: 'Whether more members follow', example: false })
  has_more!: boolean;

  @ApiProperty({
    description: 'Pass as `cursor` to get the next page; null on the last page',
    nullable: true,
    type: 'string',
    example: null,
  })
  next_cursor!: string | null;
}
