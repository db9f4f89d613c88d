import { Module } from '@nestjs/common';
import { OrgsController } from './orgs.controller';
import { OrgsRepository } from './orgs.repository';
import { OrgsService } from './orgs.service';

/** The organization itself and its members, read by the org's own members. */
@Module({
  controllers: [OrgsController],
  providers: [OrgsService, OrgsRepository],
})
export class OrgsModule {}
