/**
 * The few commands payfetch sends, as `ioredis` (and most clients) expose them; an ioredis
 * `Cluster` has them too. Pass your own client: payfetch never opens connections.
 */
export type RedisClient = {
  eval(script: string, numberOfKeys: number, ...args: (string | number)[]): Promise<unknown>
  hget(key: string, field: string): Promise<string | null>
  hgetall(key: string): Promise<Record<string, string>>
  hset(key: string, field: string, value: string): Promise<unknown>
  get(key: string): Promise<string | null>
  // Two overloads rather than `...args`: ioredis types `set` with literal tokens ('PX'), which a
  // rest of strings would not accept, so `new Redis()` would not type-check as a RedisClient.
  set(key: string, value: string): Promise<unknown>
  set(key: string, value: string, mode: 'PX', milliseconds: number): Promise<unknown>
  set(key: string, value: string, mode: 'PX', milliseconds: number, condition: 'NX'): Promise<unknown>
  del(key: string): Promise<unknown>
}
