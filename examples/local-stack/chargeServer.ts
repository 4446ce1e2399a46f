import { randomBytes } from 'node:crypto'
import { createServer, type OutgoingHttpHeaders, type ServerResponse } from 'node:http'
import { close, listen, toRouteRequest, writeRouteResponse } from './http.js'
import {
  type ChallengeParams,
  type Credential,
  challengeId,
  contentDigest,
  encodeJson,
  formatChallenge,
  formatReceipt,
  type Problem,
  parseCredential,
} from './paymentAuth.js'
import { createRequestLog, type RequestLog } from './requestLog.js'
import type { RouteHandler, RouteRequest } from './routes.js'

/** A priced route of a hand-built `charge` server; `terms` is what the method needs to price it. */
export type ChargeRoute<Terms> = {
  readonly method: 'GET' | 'POST'
  /** An exact path, e.g. `/weather`. */
  readonly path: string
  readonly terms: Terms
  /** Sent as the `description` auth-param (display only, outside the HMAC). */
  readonly description?: string | undefined
  /** Seconds from issue to `expires`. Default 300; zero or less issues challenges that have already expired. */
  readonly expiresInSeconds?: number | undefined
  /** Adds `digest` (the body's RFC 9530 SHA-256) and refuses a retry whose body differs. */
  readonly bindBody?: boolean | undefined
  readonly handler: RouteHandler
}

/** What a payment method supplies: the `request` object of each challenge, and the payload check. */
export type ChargeMethod<Terms, State> = {
  /** The `method` auth-param, e.g. `lightning`. */
  readonly name: string
  /** Problem type URIs for the failures the shared server detects; method drafts name their own. */
  readonly problems: { readonly malformed: string; readonly unknownChallenge: string; readonly expired: string }
  /**
   * The `request` object for one new challenge and what the server must remember about it (an
   * invoice's payment hash…). May bring `expires` forward (Lightning: never after the invoice's expiry).
   */
  issue(route: ChargeRoute<Terms>, expires: Date): Promise<{ request: object; state: State; expires?: Date }>
  /** The payload's shape, checked before the challenge is looked up: why it is malformed, or `undefined`. */
  malformedPayload(payload: Record<string, unknown>): string | undefined
  /**
   * Checks `payload` against the remembered state and settles; resolves to the receipt's
   * `reference` (and any extra receipt fields), or to the problem to answer with a fresh challenge.
   */
  verify(input: {
    payload: Record<string, unknown>
    state: State
    route: ChargeRoute<Terms>
    credential: Credential
  }): Promise<{ reference: string; receipt?: Record<string, unknown> } | Problem>
}

/** One credential the server accepted or refused. */
export type ChargeOutcome = {
  readonly path: string
  readonly challengeId: string | undefined
  readonly accepted: boolean
  /** The receipt reference when accepted, the problem type when refused. */
  readonly detail: string
}

export type ChargeServer = {
  readonly url: string
  /** `127.0.0.1:<port>`: every challenge's realm. */
  readonly realm: string
  readonly requests: RequestLog
  /** Every challenge issued, oldest first. */
  readonly challenges: readonly ChallengeParams[]
  /** Every credential judged, oldest first. */
  readonly outcomes: readonly ChargeOutcome[]
  close(): Promise<void>
}

const coreProblems = 'https://paymentauth.org/problems/'

type Issued<State> = {
  readonly params: ChallengeParams
  readonly routeKey: string
  readonly state: State
  /** Being verified right now: a concurrent second use is refused, so exactly one can succeed. */
  pending: boolean
  consumed: boolean
}

/**
 * A `Payment`-scheme server for a stateful `charge` method, written from draft-httpauth-payment-00:
 * every 402 carries one fresh challenge whose `id` is the recommended HMAC over the other params,
 * `Cache-Control: no-store` and an RFC 9457 body. A credential is accepted only when it echoes a
 * challenge this server issued for this route, exactly (`id`, `realm`, `method`, `intent`,
 * `request`, `expires`, and `digest`/`opaque` when issued; `description` when echoed), unexpired
 * and unused, and `method.verify` accepts its payload. The challenge is then consumed, and the 2xx
 * carries a `Payment-Receipt` (`{method, challengeId, reference, status, timestamp}`) and
 * `Cache-Control: private`. `GET /free` is never priced.
 */
export async function startChargeServer<Terms, State>(
  method: ChargeMethod<Terms, State>,
  routes: readonly ChargeRoute<Terms>[],
): Promise<ChargeServer> {
  const secret = randomBytes(32)
  const issued = new Map<string, Issued<State>>()
  const challenges: ChallengeParams[] = []
  const outcomes: ChargeOutcome[] = []
  const requests = createRequestLog()
  let realm = ''

  async function issue(route: ChargeRoute<Terms>, request: RouteRequest): Promise<ChallengeParams> {
    const wanted = new Date(Date.now() + (route.expiresInSeconds ?? 300) * 1000)
    const made = await method.issue(route, wanted)
    const expires = made.expires && made.expires < wanted ? made.expires : wanted
    const unbound = {
      realm,
      method: method.name,
      intent: 'charge',
      request: encodeJson(made.request),
      expires: expires.toISOString(),
      ...(route.bindBody ? { digest: contentDigest(request.body) } : {}),
    }
    const params: ChallengeParams = {
      id: challengeId(secret, unbound),
      ...unbound,
      ...(route.description === undefined ? {} : { description: route.description }),
    }
    issued.set(params.id, { params, routeKey: keyOf(route), state: made.state, pending: false, consumed: false })
    challenges.push(params)
    return params
  }

  async function refuse(
    response: ServerResponse,
    route: ChargeRoute<Terms>,
    request: RouteRequest,
    problem: Problem,
  ): Promise<void> {
    const fresh = await issue(route, request)
    const headers: OutgoingHttpHeaders = {
      'www-authenticate': formatChallenge(fresh),
      'cache-control': 'no-store',
      'content-type': 'application/problem+json',
    }
    response.writeHead(402, headers)
    response.end(JSON.stringify({ ...problem, challengeId: fresh.id }))
  }

  // The failure a credential shows before its payload is looked at, or the entry it names.
  function judge(credential: Credential, route: ChargeRoute<Terms>, request: RouteRequest): Problem | Issued<State> {
    const echoed = credential.challenge
    const { malformed, unknownChallenge, expired } = method.problems
    const text = (name: string) => (typeof echoed[name] === 'string' ? (echoed[name] as string) : undefined)
    const id = text('id')
    if (id === undefined) return problem(malformed, 'Malformed Credential', 'challenge.id is missing')
    const entry = issued.get(id)
    if (!entry) return problem(unknownChallenge, 'Unknown Challenge', 'no challenge with this id was issued here')
    if (entry.consumed || entry.pending)
      return problem(unknownChallenge, 'Unknown Challenge', 'this challenge has already been used')
    const bound = ['id', 'realm', 'method', 'intent', 'request', 'expires', 'digest', 'opaque'] as const
    for (const name of bound)
      if (text(name) !== entry.params[name])
        return problem(unknownChallenge, 'Unknown Challenge', `challenge.${name} is not the one issued`)
    if (echoed.description !== undefined && echoed.description !== entry.params.description)
      return problem(unknownChallenge, 'Unknown Challenge', 'challenge.description is not the one issued')
    if (challengeId(secret, entry.params) !== id)
      return problem(unknownChallenge, 'Unknown Challenge', 'challenge was not issued by this server')
    if (entry.routeKey !== keyOf(route))
      return problem(unknownChallenge, 'Unknown Challenge', `challenge was issued for ${entry.routeKey}`)
    if (Date.parse(entry.params.expires ?? '') <= Date.now())
      return problem(expired, 'Challenge Expired', `challenge expired at ${entry.params.expires}`)
    if (entry.params.digest !== undefined && entry.params.digest !== contentDigest(request.body))
      return problem(
        `${coreProblems}verification-failed`,
        'Body Mismatch',
        'the request body does not match the digest',
      )
    return entry
  }

  async function serve(request: RouteRequest, response: ServerResponse): Promise<void> {
    requests.record(request)
    if (request.method === 'GET' && request.url.pathname === '/free')
      return writeRouteResponse(response, {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ free: true }),
      })
    const route = routes.find((one) => one.method === request.method && one.path === request.url.pathname)
    if (!route) {
      response.writeHead(404, { 'content-type': 'application/json' })
      return void response.end(JSON.stringify({ error: 'not found' }))
    }
    const credential = parseCredential(request.headers.authorization)
    if (credential === null)
      return refuse(
        response,
        route,
        request,
        problem(`${coreProblems}payment-required`, 'Payment Required', 'Payment is required.'),
      )
    const record = (accepted: boolean, detail: string, challengeId?: unknown) =>
      outcomes.push({
        path: route.path,
        challengeId: typeof challengeId === 'string' ? challengeId : undefined,
        accepted,
        detail,
      })
    if (credential === 'malformed') {
      record(false, method.problems.malformed)
      return refuse(
        response,
        route,
        request,
        problem(method.problems.malformed, 'Malformed Credential', 'not base64url JSON with challenge and payload'),
      )
    }
    const shape = method.malformedPayload(credential.payload)
    const judged = shape
      ? problem(method.problems.malformed, 'Malformed Credential', shape)
      : judge(credential, route, request)
    if ('type' in judged) {
      record(false, judged.type, credential.challenge.id)
      return refuse(response, route, request, judged)
    }
    judged.pending = true
    let verdict: Awaited<ReturnType<typeof method.verify>>
    try {
      verdict = await method.verify({ payload: credential.payload, state: judged.state, route, credential })
    } finally {
      judged.pending = false
    }
    if ('type' in verdict) {
      record(false, verdict.type, judged.params.id)
      return refuse(response, route, request, verdict)
    }
    // Consumed before the resource is produced: a failure after this point must not reopen it.
    judged.consumed = true
    record(true, verdict.reference, judged.params.id)
    const answer = await route.handler(request)
    const receipt = {
      method: method.name,
      challengeId: judged.params.id,
      reference: verdict.reference,
      status: 'success',
      timestamp: new Date().toISOString(),
      ...verdict.receipt,
    }
    writeRouteResponse(response, answer, {
      'payment-receipt': formatReceipt(receipt),
      'cache-control': 'private',
    })
  }

  const server = createServer((incoming, response) => {
    toRouteRequest(incoming)
      .then((request) => serve(request, response))
      .catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' })
        response.end(String(error))
      })
  })
  const url = await listen(server)
  realm = new URL(url).host
  return { url, realm, requests, challenges, outcomes, close: () => close(server) }
}

export function problem(type: string, title: string, detail: string): Problem {
  return { type, title, status: 402, detail }
}

const keyOf = (route: { method: string; path: string }) => `${route.method} ${route.path}`
