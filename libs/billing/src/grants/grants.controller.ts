import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentOrg, OrgContext, OrgRole } from '@credits/auth';
import { ApiErrorResponses, COMMON_ERROR_TYPES } from '@credits/errors';
import { CreditGrantPage, ListGrantsQuery } from './grants.dto';
import { GrantsService } from './grants.service';

@ApiTags('credits')
@Controller('api/v1/org/:org/credits/grants')
export class GrantsController {
  constructor(private readonly grants: GrantsService) {}

  @Get()
  @OrgRole('member', 'credits:read')
  @ApiOperation({
    summary: 'List credit grants',
    description:
      "The organization's credit grants (purchases, auto-refills, operator grants), newest first, cursor-paginated, " +
      'each with what is left of it, when it expires and its status.',
  })
  @ApiOkResponse({ description: 'Successful Response', type: CreditGrantPage })
  @ApiErrorResponses('validation_error', ...COMMON_ERROR_TYPES)
  listCreditGrants(@CurrentOrg() org: OrgContext, @Query() query: ListGrantsQuery): Promise<CreditGrantPage> {
    return this.grants.list(org.id, query);
  }
}
