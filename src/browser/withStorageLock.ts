type LockManager = { request<T>(name: string, callback: () => Promise<T>): Promise<T> }

/**
 * Runs `work` under the Web Locks API when the browser has it, so tabs of one origin take turns;
 * elsewhere the calls of this page run one after the other.
 */
export function storageLock(name: string): <T>(work: () => Promise<T>) => Promise<T> {
  let queue: Promise<unknown> = Promise.resolve()
  return (work) => {
    const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks
    if (locks) return locks.request(name, work)
    const run = queue.then(work, work)
    queue = run.catch(() => {})
    return run
  }
}
