import { type Event, type Filter, matchFilters, verifyEvent } from 'nostr-tools'
import type WebSocket from 'ws'
import * as ws from 'ws'

// ws 8 exports `WebSocketServer`; the @types/ws in the tree describes ws 7, which called it `WebSocket.Server`.
const { WebSocketServer } = ws as unknown as { WebSocketServer: typeof WebSocket.Server }

export type NostrRelay = {
  /** `ws://127.0.0.1:<port>` */
  readonly url: string
  /** Every event published to it, in order (ephemeral ones included). */
  readonly published: Event[]
  /** Whether a live subscription has a filter `match` accepts. */
  hasSubscription(match: (filter: Filter) => boolean): boolean
  close(): Promise<void>
}

/**
 * An in-memory NIP-01 relay on loopback (ws + nostr-tools): checks event signatures, stores
 * regular and replaceable events, broadcasts ephemeral ones (kinds 20000–29999, such as NIP-47
 * requests and replies) only to live subscriptions, answers `OK` and `EOSE`.
 */
export async function startNostrRelay(): Promise<NostrRelay> {
  const stored: Event[] = []
  const published: Event[] = []
  const subscriptions = new Map<WebSocket, Map<string, Filter[]>>()
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  server.on('connection', (socket) => {
    subscriptions.set(socket, new Map())
    socket.on('close', () => subscriptions.delete(socket))
    socket.on('message', (raw) => {
      let message: unknown[]
      try {
        message = JSON.parse(String(raw)) as unknown[]
      } catch {
        return
      }
      const [type, ...rest] = message
      if (type === 'EVENT') {
        const event = rest[0] as Event
        if (!verifyEvent(event)) return socket.send(JSON.stringify(['OK', event?.id, false, 'invalid: bad signature']))
        published.push(event)
        if (event.kind < 20000 || event.kind >= 30000) {
          const replaceable = (event.kind >= 10000 && event.kind < 20000) || event.kind === 0 || event.kind === 3
          if (replaceable)
            for (let i = stored.length - 1; i >= 0; i--)
              if (stored[i]?.kind === event.kind && stored[i]?.pubkey === event.pubkey) stored.splice(i, 1)
          stored.push(event)
        }
        socket.send(JSON.stringify(['OK', event.id, true, '']))
        for (const [peer, filters] of subscriptions)
          for (const [id, filter] of filters)
            if (matchFilters(filter, event)) peer.send(JSON.stringify(['EVENT', id, event]))
      } else if (type === 'REQ') {
        const [id, ...filters] = rest as [string, ...Filter[]]
        subscriptions.get(socket)?.set(id, filters)
        for (const event of stored) if (matchFilters(filters, event)) socket.send(JSON.stringify(['EVENT', id, event]))
        socket.send(JSON.stringify(['EOSE', id]))
      } else if (type === 'CLOSE') subscriptions.get(socket)?.delete(rest[0] as string)
    })
  })
  await new Promise<void>((resolve) => server.once('listening', resolve))
  const address = server.address()
  if (typeof address === 'string') throw new Error('relay has no TCP address')
  return {
    url: `ws://127.0.0.1:${address.port}`,
    published,
    hasSubscription: (match) =>
      [...subscriptions.values()].some((filters) => [...filters.values()].some((list) => list.some(match))),
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate()
        server.close(() => resolve())
      }),
  }
}
