import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { toRouteRequest, writeRouteResponse } from './http.js'
import type { RouteHandler } from './routes.js'

// express ships no type declarations and @types/express is not a dev dependency, so this is the
// typed slice the v2 server uses. Express's req/res extend Node's, which is all our handlers touch.

export type ExpressHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  next: (error?: unknown) => void,
) => unknown

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete'

export type ExpressApp = RequestListener & {
  use(handler: ExpressHandler): ExpressApp
} & { [M in Method]: (path: string, handler: ExpressHandler) => ExpressApp }

/** Creates an express 5 application. */
export function createExpressApp(): ExpressApp {
  const express = createRequire(import.meta.url)('express') as () => ExpressApp
  return express()
}

/** A route handler as express middleware: errors go to express, which answers 500. */
export function toExpress(handler: RouteHandler): ExpressHandler {
  return async (request, response, next) => {
    try {
      writeRouteResponse(response, await handler(await toRouteRequest(request)))
    } catch (error) {
      next(error)
    }
  }
}
