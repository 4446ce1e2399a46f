import type { ChildProcess } from 'node:child_process'

// Every live child (anvil, redis) is killed when this process goes away, however it goes away (short of SIGKILL).
const running = new Set<ChildProcess>()
let hooksInstalled = false

export function track(child: ChildProcess) {
  running.add(child)
  if (hooksInstalled) return
  hooksInstalled = true
  process.once('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll()
      // A listener cancels the default exit; re-raise so the process still dies unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
    })
  }
}

export function untrack(child: ChildProcess) {
  running.delete(child)
}

function killAll() {
  for (const child of running) child.kill('SIGKILL')
  running.clear()
}
