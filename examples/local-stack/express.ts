import { createRequire } from 'node:module'
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'

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
