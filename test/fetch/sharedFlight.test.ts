import { afterEach, describe, expect, test, vi } from 'vitest'
import type { PayingContext } from '../../src/fetch/context.js'
import { flightLockMs, joinFlight } from '../../src/fetch/sharedFlight.js'
import type { SessionLock, SessionStore, SessionToken } from '../../src/sessions/SessionStore.js'

// The wait of a call whose origin another process is paying, driven by fake timers: the lock's
// holder is a store that says "taken" for as long as the test wants.
const url = 'https://api.example.com/item'
const token: SessionToken = { protocol: 'l402', headers: { authorization: `L402 mac:${'ab'.repeat(32)}` } }

function contextWith(sessions: Partial<SessionStore>, approveTimeoutMs = 1_000) {
  const events: string[] = []
  const context = {
    flights: new Map(),
    approveTimeoutMs,
    sessions: { get: () => undefined, set: () => {}, delete: () => {}, ...sessions },
    emit: (event: { type: string }) => events.push(event.type),
  } as unknown as PayingContext
  return { context, events }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('joinFlight across processes', () => {
  test('error: a lock its holder never lets go ends the wait with PAYMENT_IN_PROGRESS once approveTimeoutMs + 2 minutes have passed, nothing paid', async () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 })
    let tries = 0
    const { context, events } = contextWith({ lock: async () => (tries++, undefined) })
    const waiting = joinFlight(context, url, new AbortController().signal, async () => undefined)
    const outcome = waiting.then(
      () => 'joined',
      (error: { code?: string }) => error.code,
    )
    await vi.advanceTimersByTimeAsync(120_999)
    expect(await Promise.race([outcome, Promise.resolve('still waiting')])).toBe('still waiting')
    await vi.advanceTimersByTimeAsync(500)
    expect(await outcome).toBe('PAYMENT_IN_PROGRESS')
    // It kept asking, every 250 ms at most once the backoff grew.
    expect(tries).toBeGreaterThan(480)
    expect(events).toEqual(['refusal'])
    expect(context.flights.size).toBe(0)
  })

  test("behavior: the caller's abort ends the wait at once with its reason", async () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 })
    const { context } = contextWith({ lock: async () => undefined })
    const controller = new AbortController()
    const waiting = joinFlight(context, url, controller.signal, async () => undefined)
    const outcome = waiting.catch((error: unknown) => error)
    await vi.advanceTimersByTimeAsync(1_000)
    controller.abort(new Error('caller gave up'))
    expect(await outcome).toEqual(new Error('caller gave up'))
    expect(context.flights.size).toBe(0)
  })

  test('behavior: the token the holder stores is picked up while waiting; nothing is led', async () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 })
    let stored: SessionToken | undefined
    const { context } = contextWith({ lock: async () => undefined })
    const waiting = joinFlight(context, url, new AbortController().signal, async () => stored)
    await vi.advanceTimersByTimeAsync(2_000)
    stored = token
    await vi.advanceTimersByTimeAsync(250)
    expect(await waiting).toEqual({ token })
  })

  test("behavior: once a dead holder's lock expires the waiter takes it and leads; its renewals run every third of the lock's life until it lands", async () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 })
    let renewals = 0
    let released = false
    let free = false
    const lock: SessionLock = {
      renew: async () => (renewals++, true),
      release: async () => {
        released = true
      },
    }
    const { context } = contextWith({ lock: async () => (free ? lock : undefined) })
    const waiting = joinFlight(context, url, new AbortController().signal, async () => undefined)
    await vi.advanceTimersByTimeAsync(flightLockMs)
    free = true
    await vi.advanceTimersByTimeAsync(250)
    const joined = await waiting
    if (!('flight' in joined)) throw new Error('expected to lead')
    // Calls of this process now wait on this flight.
    const follower = joinFlight(context, url, new AbortController().signal, async () => undefined)
    await vi.advanceTimersByTimeAsync(flightLockMs)
    expect(renewals).toBe(3)
    await joined.flight.land(token)
    expect(await follower).toEqual({ token })
    expect(released).toBe(true)
    await vi.advanceTimersByTimeAsync(flightLockMs)
    expect(renewals).toBe(3)
  })

  test('error: a store whose lock fails refuses with STORE_FAILED (nothing paid) and leaves no flight behind', async () => {
    const { context } = contextWith({
      lock: async () => {
        throw new Error('connection refused')
      },
    })
    await expect(joinFlight(context, url, new AbortController().signal, async () => undefined)).rejects.toMatchObject({
      code: 'STORE_FAILED',
      details: { store: 'sessions', operation: 'lock', paid: false },
    })
    expect(context.flights.size).toBe(0)
  })

  test('behavior: a store without lock leads at once (tokens are shared once stored)', async () => {
    const { context } = contextWith({})
    const joined = await joinFlight(context, url, new AbortController().signal, async () => undefined)
    expect('flight' in joined).toBe(true)
    if ('flight' in joined) await joined.flight.land(undefined)
    expect(context.flights.size).toBe(0)
  })
})
