import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentOrg, OrgContext, OrgRole } from '@credits/auth';
import { ApiErrorResponses, COMMON_ERROR_TYPES } from '@credits/errors';
import { ListMembersQuery, OrganizationMemberPage, OrganizationResponse } from './orgs.dto';
import { OrgsService } from './orgs.service';

@ApiTags('organizations')
@Controller('api/v1/org/:org')
export class OrgsController {
  constructor(private readonly orgs: OrgsService) {}

  @Get()
  @OrgRole('member', 'org:read')
  @ApiOperation({
    summary: 'Get organization',
    description: 'The organization and the role the caller holds in it.',
  })
  @ApiOkResponse({ description: 'Successful Response', type: OrganizationResponse })
  @ApiErrorResponses(...COMMON_ERROR_TYPES)
  getOrganization(@CurrentOrg() org: OrgContext): Promise<OrganizationResponse> {
    return this.orgs.organization(org);
  }

  @Get('members')
  @OrgRole('admin', 'org:read')
  @ApiOperation({
    summary: 'List organization members',
    description:
      "The organization's members and their roles, by email address, cursor-paginated. Admins and owners only.",
  })
  @ApiOkResponse({ description: 'Successful Response', type: OrganizationMemberPage })
  @ApiErrorResponses('validation_error', ...COMMON_ERROR_TYPES)
  listOrganizationMembers(
    @CurrentOrg() org: OrgContext,
    @Query() query: ListMembersQuery,
  ): Promise<OrganizationMemberPage> {
    return this.orgs.members(org.id, query);
  }
}
