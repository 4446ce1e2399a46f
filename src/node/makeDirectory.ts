import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * Makes a directory and its missing parents, private to the user (they hold proofs and tokens).
 * One level at a time, each tried at most twice: Node's recursive `mkdir` retries for good where
 * `mkdir` answers `ENOENT` under a parent that exists (`/proc`), so a bad path fails instead.
 */
export async function makeDirectory(path: string): Promise<void> {
  const made = () =>
    mkdir(path, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error
    })
  try {
    await made()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(path) === path) throw error
    await makeDirectory(dirname(path))
    await made()
  }
}
