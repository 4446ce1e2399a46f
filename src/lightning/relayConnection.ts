/** The part of the WebSocket API payfetch uses: the browser's `WebSocket` and the `ws` package both fit. */
export type WebSocketLike = {
  send(data: string): void
  close(): void
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: { data?: unknown }) => void): void
}

/** A WebSocket class, e.g. `globalThis.WebSocket` or `WebSocket` from `ws`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike

/** A NIP-01 connection to one relay: send messages, wait for the first that matches. */
export type RelayConnection = {
  send(message: readonly unknown[]): void
  /** Resolves with what `match` returns for the first message it does not answer `undefined` for. */
  next<T>(match: (message: unknown[]) => T | undefined): Promise<T>
  close(): void
}

/**
 * Opens a WebSocket to a relay. Waiters reject when the socket closes or fails, or when `signal`
 * aborts (which also closes the socket).
 */
export function connectRelay(
  url: string,
  WebSocket: WebSocketConstructor,
  signal: AbortSignal,
): Promise<RelayConnection> {
  return new Promise((resolve, reject) => {
    const waiters = new Set<{
      match: (message: unknown[]) => unknown
      resolve: (value: never) => void
      reject: (error: unknown) => void
    }>()
    let ended: unknown
    const socket = new WebSocket(url)
    const end = (error: unknown) => {
      ended ??= error
      for (const waiter of waiters) waiter.reject(ended)
      waiters.clear()
      reject(ended)
    }
    const abort = () => {
      end(signal.reason)
      socket.close()
    }
    if (signal.aborted) return abort()
    signal.addEventListener('abort', abort, { once: true })
    socket.addEventListener('error', () => end(new Error(`relay ${url} failed`)))
    socket.addEventListener('close', () => end(new Error(`relay ${url} closed the connection`)))
    socket.addEventListener('message', ({ data }) => {
      let message: unknown
      try {
        message = JSON.parse(String(data))
      } catch {
        return
      }
      if (!Array.isArray(message)) return
      for (const waiter of waiters) {
        const value = waiter.match(message)
        if (value === undefined) continue
        waiters.delete(waiter)
        waiter.resolve(value as never)
      }
    })
    socket.addEventListener('open', () =>
      resolve({
        send: (message) => socket.send(JSON.stringify(message)),
        next: <T>(match: (message: unknown[]) => T | undefined) =>
          ended !== undefined
            ? Promise.reject(ended)
            : new Promise<T>((resolve, reject) =>
                waiters.add({ match, resolve: resolve as (value: never) => void, reject }),
              ),
        close: () => {
          signal.removeEventListener('abort', abort)
          socket.close()
        },
      }),
    )
  })
}
