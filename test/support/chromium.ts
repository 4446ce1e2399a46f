import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { close, listen } from '../../examples/local-stack/http.js'

/** Debian's Chromium, started quiet: no network of its own, no updates, no first-run pages. */
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
]

export type Chromium = {
  /** One profile (one IndexedDB, one localStorage per origin) shared by every tab opened in it. */
  readonly context: BrowserContext
  close(): Promise<void>
}

/**
 * Starts Chromium once for a test file, with a fresh profile on disk. Starting it is slow on a
 * loaded machine: open tabs in the one context rather than launching again.
 */
export async function startChromium(): Promise<Chromium> {
  const profile = await mkdtemp(join(tmpdir(), 'payfetch-chromium-'))
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: chromiumArgs,
      viewport: { width: 900, height: 700 },
    })
    return {
      context,
      async close() {
        await context.close().catch(() => {})
        await rm(profile, { recursive: true, force: true })
      },
    }
  } catch (error) {
    await rm(profile, { recursive: true, force: true })
    throw error
  }
}

const root = join(import.meta.dirname, '../..')

/**
 * An ES module for a page, bundled from source as the script build is (every dependency inside),
 * so a test runs the code of this checkout without `npm run build`. `extra` adds exports, such as a
 * wallet library's class the page needs.
 */
export async function bundleForPage(entry: 'payfetch' | 'payfetch-solana', extra = ''): Promise<string> {
  const result = await build({
    stdin: {
      contents: `export * from './src/script/${entry}.ts'\n${extra}`,
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  })
  return result.outputFiles[0]?.text ?? ''
}

export type TestPage = {
  /** A blank page whose module sets `window.payfetch` to the script build. */
  readonly url: string
  /** Requests for other paths (answered 404), with their headers: what the page sent its own origin. */
  readonly requests: { path: string; headers: IncomingHttpHeaders }[]
  close(): Promise<void>
}

/** Serves a blank page and `script` as `/payfetch.js`, on a loopback origin of its own. */
export async function startTestPage(script: string): Promise<TestPage> {
  const requests: TestPage['requests'] = []
  const server = createServer((request, response) => {
    if (request.url === '/payfetch.js') {
      response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' })
      return void response.end(script)
    }
    if (request.url !== '/') {
      requests.push({ path: request.url ?? '', headers: request.headers })
      return void response.writeHead(404).end()
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    // The page loads the bundle itself: vitest rewrites import() inside functions given to page.evaluate.
    response.end(
      `<!doctype html><meta charset="utf-8"><title>payfetch test page</title><script type="module">import * as payfetch from '/payfetch.js'; window.payfetch = payfetch</script>`,
    )
  })
  const url = `${await listen(server)}/`
  return { url, requests, close: () => close(server) }
}

/** Opens `url` in a new tab of `context` and waits for the page's `window.payfetch`. */
export async function openPage(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage()
  await page.goto(url)
  await page.waitForFunction(() => (window as { payfetch?: unknown }).payfetch !== undefined)
  return page
}
