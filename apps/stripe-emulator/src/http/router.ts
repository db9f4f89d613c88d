import type { ApiHandler, PathParams } from '../context';
import { unknownRoute } from '../stripe-api/stripe-errors';

interface Route {
  method: string;
  pattern: RegExp;
  /** The `:name`s of `pattern`'s groups, in order. */
  names: string[];
  handler: ApiHandler;
}

export interface ResolvedRoute {
  handler: ApiHandler;
  path: PathParams;
}

/** The Stripe API's routing table: `router.get('/v1/customers/:id', handler)`, one line a route. */
export class Router {
  private readonly routes: Route[] = [];

  get(template: string, handler: ApiHandler): this {
    return this.add('GET', template, handler);
  }

  post(template: string, handler: ApiHandler): this {
    return this.add('POST', template, handler);
  }

  /** The route for `method` and `path`, or Stripe's 404 for an unrecognized URL. */
  resolve(method: string, path: string): ResolvedRoute {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const match = route.pattern.exec(path);
      if (!match) continue;
      const params: PathParams = {};
      route.names.forEach((name, i) => (params[name] = match[i + 1]));
      return { handler: route.handler, path: params };
    }
    throw unknownRoute(method, path);
  }

  private add(method: string, template: string, handler: ApiHandler): this {
    const names: string[] = [];
    const source = template.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:([a-z_]+)/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), names, handler });
    return this;
  }
}
