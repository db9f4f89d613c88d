import { Module } from '@nestjs/common';
import { OrganizationsRepository } from '@credits/auth/directory/organizations.repository';
import { OrgsController } from './orgs.controller';
import { OrgsService } from './orgs.service';

/** The organization itself and its members, read by the org's own members. */
@Module({
  controllers: [OrgsController],
  providers: [OrgsService, OrganizationsRepository],
})
export class OrgsModule {}
