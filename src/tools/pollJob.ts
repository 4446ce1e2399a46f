/** How an accepted (202) job is followed. */
export type PollOptions = {
  /** The fetch used for polls: it never pays. */
  readonly fetch: typeof fetch
  /** Headers of the original request; sent only to its own origin. */
  readonly headers: Readonly<Record<string, string>>
  /** The origin of the original request. */
  readonly origin: string
  /**
   * Unix time in ms after which polling stops and the job handle is returned. A poll still
   * unanswered then is given up too.
   */
  readonly deadline: number
  readonly now: () => number
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  /** The caller's cancel: it ends polling with its error. */
  readonly signal?: AbortSignal | undefined
  /** Longest wait between polls. Default 5 000 ms. */
  readonly maxIntervalMs?: number | undefined
}

/** The end of polling: the final response, or why it stopped with the job still open. */
export type PollResult =
  | { readonly done: true; readonly response: Response }
  | {
      readonly done: false
      readonly url: string
      readonly status: number
      readonly retryAfterMs?: number | undefined
      readonly reason: string
    }

const maxPolls = 100
// A server that says `Retry-After: 0` (or a date gone by) on every 202 is still polled at this pace, not in a tight loop.
const minPollGapMs = 250

/**
 * Follows `202 Accepted` + `Location` (waiting `Retry-After`, redirects by hand) until the job
 * answers with something else or the deadline passes. Polls go through a plain fetch: a poll that
 * asks for payment again ends polling unpaid, with the job handle. The job was paid for: a poll
 * that stalls past the deadline or fails on the network ends polling with the handle, never an error.
 */
export async function pollJob(accepted: Response, requestUrl: string, options: PollOptions): Promise<PollResult> {
  let response = accepted
  let base = accepted.url || requestUrl
  let target = locationOf(response, base)
  let wait = retryAfterMs(response, options.now())
  for (let poll = 0; poll < maxPolls; poll++) {
    if (!target) return { done: true, response }
    const delay = Math.min(wait ?? 1000, options.maxIntervalMs ?? 5000)
    if (options.now() + delay >= options.deadline)
      return open(target, response.status, wait, 'the job was still running when the time limit came')
    if (delay > 0) await options.sleep(delay, options.signal)
    await response.body?.cancel().catch(() => {})
    const sameOrigin = new URL(target).origin === options.origin
    // The poll (and the body read after it) is bounded by the deadline, not only by the caller.
    const timeLimit = AbortSignal.timeout(Math.max(1, options.deadline - options.now()))
    try {
      response = await options.fetch(target, {
        method: 'GET',
        headers: sameOrigin ? withoutBodyHeaders(options.headers) : {},
        redirect: 'manual',
        signal: options.signal ? AbortSignal.any([options.signal, timeLimit]) : timeLimit,
      })
    } catch (error) {
      if (options.signal?.aborted) throw error
      const reason = timeLimit.aborted ? 'the job did not answer before the time limit' : 'polling the job failed'
      return open(target, response.status, undefined, reason)
    }
    base = target
    if (response.status === 402) {
      await response.body?.cancel().catch(() => {})
      return open(target, 402, undefined, 'polling the job asked for another payment; nothing more was paid')
    }
    if (response.status >= 300 && response.status < 400 && response.headers.has('location')) {
      target = locationOf(response, base)
      wait = 0
      continue
    }
    if (response.status !== 202) return { done: true, response }
    target = locationOf(response, base) ?? target
    wait = retryAfterMs(response, options.now())
  }
  return open(target ?? base, response.status, wait, 'the job was polled too many times')
}

function open(url: string, status: number, retryAfter: number | undefined, reason: string): PollResult {
  return { done: false, url, status, ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }), reason }
}

function locationOf(response: Response, base: string): string | undefined {
  const location = response.headers.get('location')
  if (!location) return undefined
  try {
    const url = new URL(location, base)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined
  } catch {
    return undefined
  }
}

/** `Retry-After` in seconds or as an HTTP date, in ms from now (at least the minimum gap). */
function retryAfterMs(response: Response, now: number): number | undefined {
  const value = response.headers.get('retry-after')?.trim()
  if (!value) return undefined
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now
  return Number.isNaN(ms) ? undefined : Math.max(minPollGapMs, ms)
}

function withoutBodyHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !/^(content-|idempotency-key$)/i.test(name)))
}
