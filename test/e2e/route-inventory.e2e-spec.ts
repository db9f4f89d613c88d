import { Inject, Injectable, Module, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, HttpAdapterHost, MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { ApiKeyScope } from '@credits/database';
import { ACCESS_RULE, AccessRule, BEARER_AUTH, REQUIRED_SCOPES } from '@credits/auth';
import { RATE_LIMIT_BUDGET, RateLimitBudget } from '@credits/traffic';
import { startTestApp, TestApp } from '../support/test-app';

/** Every route Fastify serves, recorded as it is added (the hook is in place before Nest adds any). */
@Injectable()
class ServedRoutes {
  readonly routes: string[] = [];

  constructor(@Inject(HttpAdapterHost) host: HttpAdapterHost) {
    host.httpAdapter.getInstance<FastifyInstance>().addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) this.routes.push(`${method} ${route.url}`);
    });
  }
}

@Module({ providers: [ServedRoutes] })
class ServedRoutesModule {}

interface ControllerRoute {
  route: string;
  handler: string;
  rule: AccessRule | undefined;
  scopes: ApiKeyScope[] | undefined;
  budget: RateLimitBudget | undefined;
}

function controllerRoutes(t: TestApp): ControllerRoute[] {
  const discovery = new DiscoveryService(t.app.get(ModulesContainer));
  const scanner = new MetadataScanner();
  const reflector = new Reflector();
  return discovery.getControllers().flatMap(({ instance, metatype }) => {
    const prototype = Object.getPrototypeOf(instance) as Record<string, () => unknown>;
    const controller = metatype as () => unknown;
    const base = Reflect.getMetadata(PATH_METADATA, controller) as string;
    return scanner
      .getAllMethodNames(prototype)
      .filter((name) => Reflect.getMetadata(PATH_METADATA, prototype[name]) !== undefined)
      .map((name) => {
        const handler = prototype[name];
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        const path = [base, Reflect.getMetadata(PATH_METADATA, handler) as string]
          .map((part) => part.replace(/^\/+|\/+$/g, ''))
          .filter(Boolean)
          .join('/');
        return {
          route: `${method} /${path}`,
          handler: `${controller.name}.${name}`,
          rule: reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [handler, controller]),
          scopes: reflector.getAllAndOverride<ApiKeyScope[] | undefined>(REQUIRED_SCOPES, [handler, controller]),
          budget: reflector.getAllAndOverride<RateLimitBudget | undefined>(RATE_LIMIT_BUDGET, [handler, controller]),
        };
      });
  });
}

/**
 * Served by Fastify outside any controller, to anyone: the API reference (Swagger UI and the
 * OpenAPI document, `SwaggerModule.setup` in apps/api/src/openapi/openapi.ts) and CORS
 * preflights. Anything else served outside a controller would escape the rules below.
 */
const OUTSIDE_CONTROLLERS = [/^GET \/docs(-json|-yaml|\/.*)?$/, /^OPTIONS \*$/];

/** The Swagger `security` a route must show: bearer credentials with its scopes, or explicitly none. */
const security = ({ rule, scopes }: ControllerRoute): unknown =>
  rule?.kind === 'org-role' ? [{ [BEARER_AUTH]: scopes ?? [] }] : rule && [];

describe('route inventory: every route of the app declares its access rule', () => {
  let t: TestApp;
  let routes: ControllerRoute[];
  let served: string[];

  beforeAll(async () => {
    // CORS on, so its preflight route is served and accounted for too.
    t = await startTestApp({ imports: [ServedRoutesModule], env: { CORS_ORIGINS: 'https://app.example.com' } });
    routes = controllerRoutes(t);
    served = t.app.get(ServedRoutes).routes;
  });
  afterAll(() => t?.close());

  it('finds the routes (the inventory is not vacuous)', () => {
    expect(routes.map((r) => r.route)).toEqual(
      expect.arrayContaining([
        'POST /api/v1/org/:org/credits/checkout',
        'GET /api/v1/org/:org',
        'POST /api/v1/stripe/webhook',
        'GET /healthz',
      ]),
    );
  });

  it('every controller route declares @OrgRole, @StripeSignature or @Public', () => {
    const undeclared = routes.filter((r) => r.rule === undefined).map((r) => `${r.route} (${r.handler})`);
    expect(undeclared).toEqual([]);
  });

  it('every @OrgRole route declares the scopes it needs, and only those routes do', () => {
    const unscoped = routes.filter((r) => r.rule?.kind === 'org-role' && !r.scopes?.length);
    expect(unscoped.map((r) => `${r.route} (${r.handler})`)).toEqual([]);
    const scopedElsewhere = routes.filter((r) => r.rule?.kind !== 'org-role' && r.scopes !== undefined);
    expect(scopedElsewhere.map((r) => `${r.route} (${r.handler})`)).toEqual([]);
  });

  it('every route Fastify serves is a controller route, or the API reference', () => {
    const known = new Set(routes.map((r) => r.route));
    // Fastify answers HEAD for every GET route with the GET route's handler.
    const unaccounted = served.filter(
      (route) =>
        !known.has(route) &&
        !known.has(route.replace(/^HEAD /, 'GET ')) &&
        !OUTSIDE_CONTROLLERS.some((pattern) => pattern.test(route.replace(/^HEAD /, 'GET '))),
    );
    expect(unaccounted).toEqual([]);
    expect(routes.filter((r) => !served.includes(r.route)).map((r) => r.route)).toEqual([]);
  });

  it('a rate-limited route declares its budget, and a route that writes does not count against reads', () => {
    const limited = routes.filter((r) => r.rule?.kind === 'org-role' || r.rule?.kind === 'stripe-signature');
    expect(limited.filter((r) => r.budget === undefined).map((r) => r.route)).toEqual([]);
    const writesCountedAsReads = limited.filter((r) => !r.route.startsWith('GET ') && r.budget === 'read');
    expect(writesCountedAsReads.map((r) => r.route)).toEqual([]);
  });

  it('the OpenAPI document shows each rule: bearer credentials and scopes for org routes, `security: []` for the others', async () => {
    const doc = (await t.request('GET', '/docs-json')).body;
    const shown = routes.map(({ route }) => {
      const [method, path] = route.split(' ');
      const operation = doc.paths[path.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()];
      return [route, operation?.security];
    });
    expect(shown).toEqual(routes.map((r) => [r.route, security(r)]));
  });
});
