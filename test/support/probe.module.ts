import { Body, Controller, Get, Module, Post } from '@nestjs/common';
import { IsDefined, IsInt, IsString, Max, MaxLength, Min } from 'class-validator';
import { CurrentOrg, CurrentPrincipal, OrgRole, OrgContext, Principal } from '@credits/auth';

class ProbeBody {
  @IsDefined()
  @IsString()
  @MaxLength(5)
  name!: string;

  @IsInt()
  @Min(1)
  @Max(10)
  quantity: number = 1;
}

/** Test-only routes exercising the guards, the pipe and the filter on a real org route. */
@Controller('api/v1/org/:org/probe')
class ProbeController {
  @Post()
  @OrgRole('admin', 'credits:purchase', { budget: 'checkout' })
  write(@CurrentOrg() org: OrgContext, @CurrentPrincipal() principal: Principal, @Body() body: ProbeBody) {
    return { org: org.slug, user: principal.kind === 'user' ? principal.email : principal.serviceName, body };
  }

  @Get()
  @OrgRole('member', 'org:read')
  read(@CurrentOrg() org: OrgContext) {
    return { org: org.slug, role: org.role };
  }

  @Get('boom')
  @OrgRole('member', 'org:read')
  boom(): never {
    throw new Error('SELECT secret FROM internals -- kaboom');
  }

  /** Fails after its JSON body was parsed and validated (a log line written past the body parser). */
  @Post('boom')
  @OrgRole('admin', 'credits:purchase', { budget: 'checkout' })
  boomAfterBody(@Body() _body: ProbeBody): never {
    throw new Error('kaboom after the body');
  }
}

@Module({ controllers: [ProbeController] })
export class ProbeModule {}
