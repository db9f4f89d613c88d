import { DynamicModule, Module } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';

export interface RouteEntry {
  method: string;
  /** Fastify's pattern: `:name` parameters, `*` wildcards. */
  url: string;
}

const ROUTE_INVENTORY = Symbol('ROUTE_INVENTORY');

/**
 * Every route the app registers with Fastify: Nest's, Swagger's, and the HEAD routes Fastify
 * adds beside each GET. Mount `module` on the app (`imports`): its provider is built before
 * the app registers any route and records them as they come, so the list cannot go stale.
 */
export function routeInventory(): { module: DynamicModule; routes: RouteEntry[] } {
  const routes: RouteEntry[] = [];
  @Module({})
  class RouteInventoryModule {}
  return {
    routes,
    module: {
      module: RouteInventoryModule,
      providers: [
        {
          provide: ROUTE_INVENTORY,
          inject: [HttpAdapterHost],
          useFactory: (host: HttpAdapterHost) => {
            const fastify = host.httpAdapter.getInstance<FastifyInstance>();
            fastify.addHook('onRoute', (route) => {
              for (const method of [route.method].flat()) routes.push({ method, url: route.url });
            });
            return routes;
          },
        },
      ],
    },
  };
}
