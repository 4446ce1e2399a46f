import type * as z from 'zod/mini'
import type { Approve } from '../fetch/approval.js'
import { createPayingFetch, type PayingFetch, type PayingFetchOptions } from '../fetch/createPayingFetch.js'
import type { PayfetchEvent } from '../fetch/events.js'
import type { PendingPayment } from '../ledger/Ledger.js'
import { memoryLedger } from '../ledger/memoryLedger.js'
import { getReceipt } from '../receipts/Receipt.js'
import { memorySessions, type SessionStore } from '../sessions/SessionStore.js'
import { type ConfirmMode, createConfirmations, digestBody } from './confirmations.js'
import { type IdempotencyStore, memoryIdempotency } from './IdempotencyStore.js'
import type { PayfetchTool, ToolAnnotations, ToolCallContext, ToolResult } from './PayfetchTool.js'
import { pollJob } from './pollJob.js'
import { readBodyText } from './readBodyText.js'
import { type ServiceEntry, serviceRequest } from './serviceCatalog.js'
import { summarizeOffer } from './summarizeOffer.js'
import { isToolFailureError, type ToolFailure, ToolFailureError, toToolFailure, unpaid } from './ToolFailure.js'
import {
  callServiceInput,
  emptyInput,
  listServicesOutput,
  type PayFetchOutput,
  payFetchInput,
  payFetchOutput,
  pendingPaymentsOutput,
  type QuotedOfferOutput,
  quoteFetchInput,
  quoteFetchOutput,
  resumePaymentInput,
  spendReportOutput,
} from './toolSchemas.js'

export type PayfetchToolsOptions = {
  /**
   * How to pay: the options of `createPayingFetch`. The tools build the paying fetch themselves,
   * with one ledger and one session store for every call, so a call can lower its own limits.
   */
  payfetch: PayingFetchOptions
  /** When a person must say yes first. Default `never`: the caps alone decide. */
  confirm?: ConfirmMode | undefined
  /** How long a `CONFIRMATION_REQUIRED` quote id stays valid, in ms. Default 300 000. */
  confirmTtlMs?: number | undefined
  /**
   * Paid services the agent may list and call by name, or a function that reads them when a
   * service tool runs (a discovery listing, say), asked again on each `list_services`.
   */
  services?: readonly ServiceEntry[] | (() => Promise<readonly ServiceEntry[]>) | undefined
  /** Where `${NAME}` in service headers is looked up. Default: none (no expansion). */
  env?: Readonly<Record<string, string | undefined>> | undefined
  /** Finished calls by idempotency key. Default: memory, 24 h. */
  idempotency?: IdempotencyStore | undefined
  /** The longest body text returned to the model. Default 20 000 characters. */
  maxBodyChars?: number | undefined
  /** Default `timeout_ms` of a call. Default 30 000. */
  timeoutMs?: number | undefined
  /**
   * How long a `202 Accepted` job is polled before its handle is returned, never past the call's
   * `timeout_ms`. Default 60 000 ms.
   */
  pollTimeoutMs?: number | undefined
  /** The clock (quote ids, polling). Default `Date.now`. */
  now?: (() => number) | undefined
  /** Waits between polls. Default: a timer. */
  sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined
}

/** The tools, in a list and by name. */
export type PayfetchTools = {
  readonly tools: readonly PayfetchTool[]
  get(name: string): PayfetchTool | undefined
  /** The paying fetch behind the tools (default limits), for the app's own calls. */
  readonly fetch: PayingFetch
}

type CallSettings = {
  maxUsd?: number | undefined
  maxSats?: number | undefined
  prefer?: readonly string[] | undefined
  reuseSession?: boolean | undefined
}

type HttpRequest = { method: string; url: string; headers: Record<string, string>; body?: string | undefined }

const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false }
const paying = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true }

/**
 * The payfetch tools for agents: `pay_fetch`, `quote_fetch`, `spend_report`, `pending_payments`,
 * `resume_payment`, and with `services`, `list_services` and `call_service`. Each has zod 4 input
 * and output schemas and a `run` that never throws: failures come back as
 * `{ code, message, paid: false | 'unknown', pending_id? }`. Per-call limits only lower the caps.
 *
 * @example
 * ```ts
 * import { createPayfetchTools } from 'payfetch/tools'
 * import { evm } from 'payfetch/evm'
 *
 * const { tools } = createPayfetchTools({ payfetch: { signers: [evm({ account })], caps: { perRequest: { usd: '0.50' } } } })
 * const payFetch = tools.find((tool) => tool.name === 'pay_fetch')!
 * const result = await payFetch.run({ url: 'https://api.example.com/report', max_usd: 0.05 })
 * if (result.ok) console.log(result.output.payment?.reference, result.output.body)
 * ```
 */
export function createPayfetchTools(options: PayfetchToolsOptions): PayfetchTools {
  const base = options.payfetch
  const ledger = base.ledger ?? memoryLedger()
  const sessions = base.sessions ?? memorySessions()
  const now = options.now ?? Date.now
  const sleep = options.sleep ?? defaultSleep
  const maxBodyChars = options.maxBodyChars ?? 20_000
  const defaultTimeoutMs = options.timeoutMs ?? 30_000
  const idempotency = options.idempotency ?? memoryIdempotency({ now })
  const inFlight = new Map<string, Promise<ToolResult<PayFetchOutput>>>()
  const confirmations = createConfirmations({
    mode: options.confirm ?? 'never',
    ttlMs: options.confirmTtlMs ?? 300_000,
    now,
    rates: base.caps?.rates,
  })
  const plainFetch: typeof fetch = (input, init) => (base.fetch ?? globalThis.fetch)(input, init)
  const shared = createPayingFetch({ ...base, ledger, sessions })

  // A paying fetch for one call: the same ledger (budgets, pending payments) and credentials, with
  // this call's lower limits, protocol order and approve hook. Built per call because CallLimits
  // carries only maxUsd; once it takes maxSats, prefer, reuseCredentials and an approve hook, one
  // shared fetch will do (and concurrent calls will share an L402 payment in flight again).
  function fetchFor(settings: CallSettings, approve?: Approve, watch?: (event: PayfetchEvent) => void): PayingFetch {
    const perRequest = base.caps?.perRequest
    const sats =
      settings.maxSats === undefined ? perRequest?.sats : lowerSats(perRequest?.sats ?? 100, settings.maxSats)
    const userApprove = base.approve
    const fetchPaid = createPayingFetch({
      ...base,
      ledger,
      sessions: settings.reuseSession === false ? withoutCredentials(sessions) : sessions,
      caps: { ...base.caps, perRequest: { ...perRequest, sats } },
      prefer: settings.prefer ?? base.prefer,
      approve:
        approve && userApprove
          ? async (request) => (await approve(request)) && (await userApprove(request))
          : (approve ?? userApprove),
      approveTimeoutMs: approve ? Math.max(base.approveTimeoutMs ?? 60_000, 600_000) : base.approveTimeoutMs,
      onEvent: (event) => {
        watch?.(event)
        base.onEvent?.(event)
      },
    })
    return settings.maxUsd === undefined ? fetchPaid : fetchPaid.withLimits({ maxUsd: usdText(settings.maxUsd) })
  }

  async function paidCall(
    request: HttpRequest,
    settings: CallSettings & { timeoutMs?: number | undefined; idempotencyKey?: string | undefined },
    confirmQuoteId: string | undefined,
    context: ToolCallContext,
  ): Promise<ToolResult<PayFetchOutput>> {
    const checked = checkRequest(request)
    if (checked) return { ok: false, error: checked }
    const bodyDigest = await digestBody(request.body)
    const fingerprint = `${request.method} ${request.url} ${bodyDigest}`
    const key = settings.idempotencyKey
    if (key === undefined) return attempt(request, settings, confirmQuoteId, context, bodyDigest)
    const running = inFlight.get(key)
    if (running) return replayed(await running, fingerprint, key)
    const done = await idempotency.get(key)
    if (done) {
      if (done.fingerprint !== fingerprint) return { ok: false, error: keyReused() }
      return { ok: true, output: { ...done.output, idempotent_replay: true } }
    }
    const call = attempt(request, settings, confirmQuoteId, context, bodyDigest)
    inFlight.set(key, call)
    try {
      const result = await call
      if (result.ok && result.output.paid)
        await idempotency.set(key, { fingerprint, output: result.output, time: now() })
      return result
    } finally {
      inFlight.delete(key)
    }

    function replayed(result: ToolResult<PayFetchOutput>, print: string, _key: string): ToolResult<PayFetchOutput> {
      if (print !== fingerprint) return { ok: false, error: keyReused() }
      return result.ok ? { ok: true, output: { ...result.output, idempotent_replay: true } } : result
    }
  }

  async function attempt(
    request: HttpRequest,
    settings: CallSettings & { timeoutMs?: number | undefined; idempotencyKey?: string | undefined },
    confirmQuoteId: string | undefined,
    context: ToolCallContext,
    bodyDigest: string,
  ): Promise<ToolResult<PayFetchOutput>> {
    const key = settings.idempotencyKey ?? randomKey()
    const outcome: { failure?: ToolFailureError; usd?: string | undefined } = {}
    let proofSent = false
    let unsettledId: string | undefined
    // A channel payment's deposit, made by this call: the receipt's amount is only the charge.
    let deposit: bigint | undefined
    const approve = confirmations.approverFor({
      request: { method: request.method, url: request.url, bodyDigest },
      quoteId: confirmQuoteId,
      ask: context.ask,
      outcome,
    })
    const timeoutMs = settings.timeoutMs ?? defaultTimeoutMs
    const givesUpAt = now() + timeoutMs
    const timeout = AbortSignal.timeout(timeoutMs)
    const signal = context.signal ? AbortSignal.any([context.signal, timeout]) : timeout
    const headers = { ...request.headers }
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'idempotency-key')) headers['idempotency-key'] = key
    // The key the payment is kept under: the caller's own header when it sent one.
    const sentKey = Object.entries(headers).find(([name]) => name.toLowerCase() === 'idempotency-key')?.[1] ?? key
    try {
      const fetchPaid = fetchFor(settings, approve, (event) => {
        if (event.type === 'payment.sent') proofSent = true
        if (event.type === 'channel.deposit') deposit = event.amount
        // An answer that neither settled nor refused the proof: the payment stays pending under this id.
        if (event.type === 'payment.failed' && event.error.code === 'PAYMENT_OUTCOME_UNKNOWN') {
          const { pendingId } = event.error.details
          if (typeof pendingId === 'string') unsettledId = pendingId
        }
      })
      let response = await fetchPaid(request.url, {
        method: request.method,
        headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        signal,
      })
      const receipt = getReceipt(response)
      if (!receipt && unsettledId) {
        // The proof left and the answer (an error status, no settlement report) neither settled nor
        // refused it: `paid: false` would invite a second payment. It stays pending, to resume.
        await response.body?.cancel().catch(() => {})
        return { ok: false, error: unsettled(response.status, unsettledId) }
      }
      let job: PayFetchOutput['job']
      if (response.status === 202 && response.headers.has('location')) {
        const polled = await pollJob(response, request.url, {
          fetch: plainFetch,
          headers: request.headers,
          origin: new URL(request.url).origin,
          // The call's timeout_ms bounds the polling too: the job handle comes back by then.
          deadline: Math.min(now() + (options.pollTimeoutMs ?? 60_000), givesUpAt),
          now,
          sleep,
          signal: context.signal,
        })
        if (polled.done) response = polled.response
        else
          job = {
            url: polled.url,
            status: polled.status,
            reason: polled.reason,
            ...(polled.retryAfterMs === undefined ? {} : { retry_after_ms: polled.retryAfterMs }),
          }
      }
      const text = await readBodyText(response, maxBodyChars, receipt !== undefined)
      const paid = receipt !== undefined
      const payment = receipt
        ? {
            protocol: receipt.protocol,
            network: receipt.network,
            asset: receipt.asset,
            amount: receipt.amount.toString(),
            ...(outcome.usd === undefined ? {} : { amount_usd: outcome.usd }),
            ...(receipt.fee === undefined ? {} : { fee: receipt.fee.toString() }),
            ...(deposit === undefined ? {} : { deposit: deposit.toString() }),
            payee: receipt.payTo,
            ...(receipt.reference === undefined ? {} : { reference: receipt.reference }),
          }
        : undefined
      return {
        ok: true,
        output: {
          ok: response.status >= 200 && response.status < 300 && job === undefined,
          status: job ? job.status : response.status,
          paid,
          ...(payment ? { payment } : {}),
          content_type: response.headers.get('content-type') ?? '',
          body: text.body,
          ...(text.encoding ? { body_encoding: text.encoding } : {}),
          body_truncated: text.truncated,
          ...(job ? { job } : {}),
        },
      }
    } catch (error) {
      const failure = outcome.failure && !proofSent ? outcome.failure.failure : toToolFailure(error, proofSent)
      return { ok: false, error: failure.paid === 'unknown' ? await withPendingId(failure, sentKey) : failure }
    }
  }

  async function pendingIdFor(key: string): Promise<string | undefined> {
    return (await ledger.pending().catch(() => [])).find((entry) => entry.idempotencyKey === key)?.id
  }

  async function withPendingId(failure: ToolFailure, key: string): Promise<ToolFailure> {
    const pendingId = await pendingIdFor(key)
    return pendingId ? { ...failure, pending_id: pendingId } : failure
  }

  async function quoteOffers(request: HttpRequest, settings: CallSettings, timeoutMs: number | undefined) {
    const quote = await fetchFor(settings).quote(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body }),
      signal: AbortSignal.timeout(timeoutMs ?? defaultTimeoutMs),
    })
    const offers: QuotedOfferOutput[] = await Promise.all(
      quote.offers.map(async ({ offer, signer, refusal, deposit, signed }) => ({
        ...(await summarizeOffer(offer, base.caps?.rates)),
        ...(deposit === undefined ? {} : { deposit: deposit.toString() }),
        payable: signer !== undefined && refusal === undefined,
        ...(refusal ? { refusal: { code: refusal.code, message: refusal.shortMessage } } : {}),
        ...(signed && {
          signed_offer: {
            verified: signed.verified,
            ...(signed.signer && { signer: signed.signer }),
            ...(signed.reason && { reason: signed.reason }),
          },
        }),
      })),
    )
    const best = quote.best ? quote.offers.findIndex(({ offer }) => offer === quote.best) : -1
    const { url, status, signInFirst } = quote
    return {
      url,
      status,
      payment_required: status === 402,
      offers,
      best,
      ...(signInFirst && { sign_in_first: signInFirst }),
    }
  }

  const tools: PayfetchTool[] = [
    define({
      name: 'pay_fetch',
      title: 'Fetch a URL, paying if it asks (HTTP 402)',
      description:
        'Sends an HTTP request. If the server answers 402 Payment Required (x402, L402), pays once within the configured ' +
        'spend limits and returns the paid answer with the payment (protocol, network, asset, atomic amount, reference). ' +
        'max_usd / max_sats can only lower the limits. Reuse idempotency_key when retrying: it never pays twice. ' +
        'A failure with paid "unknown" must not be retried: use resume_payment with its pending_id. ' +
        'A 202 job is polled for free; if it is still running, poll job.url later.',
      input: payFetchInput,
      output: payFetchOutput,
      annotations: paying,
      run: (input, context) => {
        const planted = plantedProof(input.headers ?? {})
        if (planted) return Promise.resolve({ ok: false, error: planted })
        return paidCall(
          {
            method: (input.method ?? 'GET').toUpperCase(),
            url: input.url,
            headers: { ...input.headers },
            body: input.body,
          },
          {
            maxUsd: input.max_usd,
            maxSats: input.max_sats,
            prefer: input.prefer,
            reuseSession: input.reuse_session,
            timeoutMs: input.timeout_ms,
            idempotencyKey: input.idempotency_key,
          },
          input.confirm_quote_id,
          context,
        )
      },
    }),
    define({
      name: 'quote_fetch',
      title: 'Price a URL without paying',
      description:
        'Sends the request once without paying and returns every payment offer of a 402 with what payfetch thinks of ' +
        'each (payable, or why not) and which one pay_fetch would pay. Pays nothing.',
      input: quoteFetchInput,
      output: quoteFetchOutput,
      annotations: { ...readOnly, openWorldHint: true },
      run: async (input) => {
        const request = {
          method: (input.method ?? 'GET').toUpperCase(),
          url: input.url,
          headers: { ...input.headers },
          body: input.body,
        }
        const checked = checkRequest(request) ?? plantedProof(request.headers)
        if (checked) throw new ToolFailureError(checked)
        const quoted = await quoteOffers(
          request,
          { maxUsd: input.max_usd, maxSats: input.max_sats, prefer: input.prefer },
          input.timeout_ms,
        )
        const { best, ...rest } = quoted
        return { ok: true, output: best < 0 ? rest : { ...rest, best } }
      },
    }),
    define({
      name: 'spend_report',
      title: 'What has been spent',
      description:
        'Spent, reserved and unknown amounts per host and asset (atomic units), and each budget with its use and limit.',
      input: emptyInput,
      output: spendReportOutput,
      annotations: readOnly,
      run: async () => {
        const report = await shared.spendReport()
        return {
          ok: true,
          output: {
            budgets: report.budgets.map((budget) => ({
              key: budget.key,
              used: budget.used.toString(),
              limit: budget.limit.toString(),
              ...(budget.windowMs === undefined ? {} : { window_ms: budget.windowMs }),
            })),
            totals: report.totals.map((total) => ({
              host: total.host,
              network: total.network,
              asset: total.asset,
              spent: total.spent.toString(),
              reserved: total.reserved.toString(),
              unknown: total.unknown.toString(),
            })),
          },
        }
      },
    }),
    define({
      name: 'pending_payments',
      title: 'Payments with an unknown outcome',
      description:
        'Payments whose proof was sent but whose answer never came, and Lightning payments (payment_hash) whose wallet answer was lost. Finish one with resume_payment; never pay again.',
      input: emptyInput,
      output: pendingPaymentsOutput,
      annotations: readOnly,
      run: async () => ({
        ok: true,
        output: { pending: (await shared.pendingPayments()).map(describePending) },
      }),
    }),
    define({
      name: 'resume_payment',
      title: 'Finish a pending payment',
      description:
        'Sends a pending payment’s exact request and proof again (no new payment) and returns the answer like pay_fetch.',
      input: resumePaymentInput,
      output: payFetchOutput,
      annotations: { ...paying, destructiveHint: false, idempotentHint: true },
      run: async (input) => {
        const pending = (await shared.pendingPayments()).find((entry) => entry.id === input.id)
        if (!pending) throw unpaid('NOT_FOUND', `No pending payment has the id ${input.id}.`)
        try {
          const response = await withTimeout(shared.resume(pending), input.timeout_ms ?? defaultTimeoutMs)
          const receipt = getReceipt(response)
          if (!receipt && (await shared.pendingPayments()).some((entry) => entry.id === pending.id)) {
            await response.body?.cancel().catch(() => {})
            return { ok: false, error: unsettled(response.status, pending.id) }
          }
          const text = await readBodyText(response, maxBodyChars, receipt !== undefined)
          return {
            ok: true,
            output: {
              ok: response.ok,
              status: response.status,
              paid: receipt !== undefined,
              ...(receipt
                ? {
                    payment: {
                      protocol: receipt.protocol,
                      network: receipt.network,
                      asset: receipt.asset,
                      amount: receipt.amount.toString(),
                      ...(receipt.fee === undefined ? {} : { fee: receipt.fee.toString() }),
                      payee: receipt.payTo,
                      ...(receipt.reference === undefined ? {} : { reference: receipt.reference }),
                    },
                  }
                : {}),
              content_type: response.headers.get('content-type') ?? '',
              body: text.body,
              ...(text.encoding ? { body_encoding: text.encoding } : {}),
              body_truncated: text.truncated,
            },
          }
        } catch (error) {
          // Resuming resends a proof that already left once: whatever failed, money may have moved.
          const failure = toToolFailure(error, true)
          const still = (await shared.pendingPayments()).some((entry) => entry.id === pending.id)
          return { ok: false, error: still ? { ...failure, paid: 'unknown', pending_id: pending.id } : failure }
        }
      },
    }),
  ]

  const catalog = options.services ?? []
  if (typeof catalog === 'function' || catalog.length > 0) {
    const env = options.env ?? {}
    // A loaded catalog is kept for `call_service`, which needs the entry the agent saw listed.
    let loaded = typeof catalog === 'function' ? undefined : catalog
    const load = async () => (loaded = typeof catalog === 'function' ? await catalog() : catalog)
    const find = async (name: string) => {
      const service = (loaded ?? (await load())).find((entry) => entry.name === name)
      if (!service) throw unpaid('SERVICE_NOT_FOUND', `No service is named "${name}"; see list_services.`)
      return service
    }
    tools.push(
      define({
        name: 'list_services',
        title: 'Paid services and their live prices',
        description:
          'The services of the catalog, each with its live price read from its 402 (nothing is paid) or why it cannot be priced.',
        input: emptyInput,
        output: listServicesOutput,
        annotations: { ...readOnly, openWorldHint: true },
        run: async () => ({
          ok: true,
          output: {
            services: await Promise.all(
              (await load()).map(async (service) => {
                const request = (() => {
                  try {
                    return serviceRequest(service, '', env)
                  } catch (error) {
                    return error
                  }
                })()
                const listed = {
                  name: service.name,
                  ...(service.description === undefined ? {} : { description: service.description }),
                  method: service.method ?? (service.body === undefined ? 'GET' : 'POST'),
                  url: service.url,
                }
                if (isToolFailureError(request))
                  return { ...listed, error: { code: request.failure.code, message: request.failure.message } }
                try {
                  const quoted = await quoteOffers(request as HttpRequest, {}, undefined)
                  const price = quoted.offers[Math.max(quoted.best, 0)]
                  return { ...listed, status: quoted.status, ...(price ? { price } : {}) }
                } catch (error) {
                  const failure = toToolFailure(error, false)
                  return { ...listed, error: { code: failure.code, message: failure.message } }
                }
              }),
            ),
          },
        }),
      }),
      define({
        name: 'call_service',
        title: 'Buy and run a paid service',
        description:
          'Calls a catalog service by name with your input, paying its 402 within the limits (like pay_fetch), and ' +
          'returns its answer, polling an asynchronous job (202) for free until it finishes or the time limit.',
        input: callServiceInput,
        output: payFetchOutput,
        annotations: paying,
        run: async (input, context) => {
          const request = serviceRequest(await find(input.service), input.input ?? '', env)
          return paidCall(
            request,
            {
              maxUsd: input.max_usd,
              maxSats: input.max_sats,
              timeoutMs: input.timeout_ms,
              idempotencyKey: input.idempotency_key,
            },
            input.confirm_quote_id,
            context,
          )
        },
      }),
    )
  }

  const byName = new Map(tools.map((tool) => [tool.name, tool]))
  return { tools, get: (name) => byName.get(name), fetch: shared }
}

// Builds a tool whose `run` validates, and turns anything thrown into a structured failure.
function define<Input extends z.ZodMiniObject, Output extends z.ZodMiniObject>(spec: {
  name: string
  title: string
  description: string
  input: Input
  output: Output
  annotations: Omit<ToolAnnotations, 'title'>
  run(input: z.infer<Input>, context: ToolCallContext): Promise<ToolResult<z.infer<Output>>>
}): PayfetchTool {
  return {
    name: spec.name,
    description: spec.description,
    inputSchema: spec.input,
    outputSchema: spec.output,
    annotations: { title: spec.title, ...spec.annotations },
    async run(input, context = {}) {
      const parsed = spec.input.safeParse(input ?? {})
      if (!parsed.success) {
        const issue = parsed.error.issues[0]
        const where = issue?.path.length ? issue.path.join('.') : 'input'
        return {
          ok: false,
          error: { code: 'INVALID_INPUT', message: `${where}: ${issue?.message ?? 'invalid'}`, paid: false },
        }
      }
      try {
        return await spec.run(parsed.data, context)
      } catch (error) {
        return { ok: false, error: toToolFailure(error, false) }
      }
    },
  } as PayfetchTool
}

function checkRequest(request: HttpRequest): ToolFailure | undefined {
  let url: URL
  try {
    url = new URL(request.url)
  } catch {
    return { code: 'INVALID_INPUT', message: 'url: not a valid URL', paid: false }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { code: 'INVALID_INPUT', message: 'url: only http and https are fetched', paid: false }
  // fetch refuses them, and they would be kept in the ledger and shown in pending payments.
  if (url.username !== '' || url.password !== '')
    return {
      code: 'INVALID_INPUT',
      message: 'url: a user name or password in the URL is not sent; use headers',
      paid: false,
    }
  if (!/^[A-Z]{1,16}$/.test(request.method))
    return { code: 'INVALID_INPUT', message: 'method: not an HTTP method', paid: false }
  try {
    new Headers(request.headers)
  } catch {
    return { code: 'INVALID_INPUT', message: 'headers: a name or value is not allowed in HTTP', paid: false }
  }
  if (request.body !== undefined && (request.method === 'GET' || request.method === 'HEAD'))
    return { code: 'INVALID_INPUT', message: 'body: GET and HEAD requests cannot have a body', paid: false }
  return undefined
}

// Headers that carry a payment proof, a paid credential or a settlement report in some protocol.
const proofNames = new Set([
  'payment-signature',
  'x-payment',
  'payment-receipt',
  'payment-response',
  'x-payment-response',
])
const paidSchemes = /^\s*(l402|lsat|payment)(\s|$)/i

/**
 * A model's request may not carry a proof or a paid credential of its own: one would reach the
 * server outside the caps, the ledger and the receipts (or ride along with payfetch's own proof).
 * payfetch makes proofs itself, and sends the credentials it paid for.
 */
function plantedProof(headers: Readonly<Record<string, string>>): ToolFailure | undefined {
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase()
    if (
      proofNames.has(lower) ||
      ((lower === 'authorization' || lower === 'proxy-authorization') && paidSchemes.test(value))
    )
      return {
        code: 'INVALID_INPUT',
        message: `headers: ${lower} would carry a payment proof or paid credential; payfetch adds those itself, within its limits`,
        paid: false,
      }
  }
  return undefined
}

function describePending(pending: PendingPayment) {
  return {
    id: pending.id,
    url: pending.url,
    method: pending.method,
    protocol: pending.protocol,
    network: pending.network,
    asset: pending.asset,
    amount: pending.amount,
    payee: pending.payTo,
    time: new Date(pending.time).toISOString(),
    // A Lightning payment is known by its hash (alone, when its wallet answer was lost).
    ...(pending.paidOnSigning && pending.reference && { payment_hash: pending.reference }),
  }
}

// A session store that hands out no paid credential (an L402 token, a sign-in entitlement) but
// keeps the one this call pays for. A payment channel's state is no credential: hidden, the call
// would deposit again and overwrite what was deposited and signed. Its lock stays shared too.
function withoutCredentials(sessions: SessionStore): SessionStore {
  const lock = sessions.lock?.bind(sessions)
  return {
    get: async (key) => {
      const token = await sessions.get(key)
      return token?.protocol === 'x402-channel' ? token : undefined
    },
    set: (key, credential) => sessions.set(key, credential),
    delete: (key) => sessions.delete(key),
    ...(lock && { lock }),
  }
}

function lowerSats(configured: bigint | number, call: number): bigint {
  const limit = BigInt(configured)
  return BigInt(call) < limit ? BigInt(call) : limit
}

/** A USD number from the model as the decimal text payfetch compares exactly. */
function usdText(value: number): string {
  const text = value.toFixed(9).replace(/\.?0+$/, '')
  if (!/^[0-9]{1,30}(\.[0-9]{1,9})?$/.test(text)) throw unpaid('INVALID_INPUT', 'max_usd: not a usable amount')
  return text
}

/** A proof that left and an answer that neither settled nor refused it: finish it, never pay it again. */
function unsettled(status: number, pendingId: string): ToolFailure {
  return {
    code: 'PAYMENT_OUTCOME_UNKNOWN',
    message: `The proof was sent and the server answered ${status} without confirming the payment; it may have gone through. It stays pending: resume it, never pay it again.`,
    paid: 'unknown',
    pending_id: pendingId,
  }
}

function keyReused(): ToolFailure {
  return {
    code: 'IDEMPOTENCY_KEY_REUSED',
    message: 'This idempotency_key was used for a different request. Nothing was paid.',
    paid: false,
  }
}

function randomKey(): string {
  return `pf_${Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, '0')).join('')}`
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DOMException('The resume timed out.', 'TimeoutError')), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        reject(signal.reason)
      },
      { once: true },
    )
  })
}
