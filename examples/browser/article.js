// A paywalled article: the price comes from the server's 402 (quote() pays nothing), the reader
// agrees with the button, the wallet in the browser (window.ethereum) signs, and the budget lives
// in IndexedDB so it holds across tabs and reloads. Open it as
//   index.html?api=<the article's URL>&chain=<chain id>
// (`npx tsx examples/browser/serve.ts` starts everything on loopback and prints that URL).
import { createPayingFetch, eip1193, evm, getReceipt, isPayfetchError, storageLedger } from 'payfetch'

const params = new URLSearchParams(location.search)
const articleUrl = params.get('api') ?? 'http://127.0.0.1:4021/article'
const chainId = Number(params.get('chain') ?? '8453')
const caps = { perRequest: { usd: '0.05' }, budgets: [{ usd: '1', window: '1d' }] }
const ledger = storageLedger({ name: 'harbour-gazette' })

const $ = (id) => document.getElementById(id)
const show = (text, error = false) => {
  $('status').textContent = text
  $('status').className = error ? 'error' : ''
}
const failure = (error) => (isPayfetchError(error) ? `${error.shortMessage} (${error.code})` : String(error))

/** An offer's amount in whole units: 10000 atomic USDC → "0.01 USDC". */
function price({ amount, asset }) {
  if (asset.decimals === undefined) return `${amount} units of ${asset.id}`
  const scale = 10n ** BigInt(asset.decimals)
  const fraction = (amount % scale).toString().padStart(asset.decimals, '0').replace(/0+$/, '')
  return `${amount / scale}${fraction ? `.${fraction}` : ''} ${asset.symbol ?? asset.id}`
}

// 1. The price, before anything is asked of the reader or the wallet.
let quoted
try {
  const quote = await createPayingFetch({ signers: [], caps, ledger }).quote(articleUrl)
  quoted = quote.offers[0]?.offer
  $('price').textContent = quoted ? `Read on for ${price(quoted)}.` : 'This article is free today.'
  $('pay').disabled = false
} catch (error) {
  $('price').textContent = 'The price could not be read.'
  show(failure(error), true)
}

// 2. The reader agrees: connect the wallet, pay at most what was shown, read.
$('pay').addEventListener('click', async () => {
  $('pay').disabled = true
  show('Waiting for your wallet…')
  try {
    const fetchPaid = createPayingFetch({
      signers: [evm({ account: await eip1193(window.ethereum, { chainId }) })],
      caps,
      ledger,
      approve: ({ offer }) => !quoted || (offer.asset.id === quoted.asset.id && offer.amount <= quoted.amount),
    })
    const response = await fetchPaid(articleUrl)
    if (!response.ok) throw new Error(`The server answered ${response.status}.`)
    const article = await response.json()
    $('body').replaceChildren(
      ...article.paragraphs.map((text) => Object.assign(document.createElement('p'), { textContent: text })),
    )
    $('body').hidden = false
    $('paywall').hidden = true
    const receipt = getReceipt(response)
    const paid = receipt
      ? `Paid ${price({ amount: receipt.amount, asset: quoted?.asset ?? { id: receipt.asset } })}`
      : 'Free'
    // A server that does not expose its settlement header leaves the page without a reference.
    const proof = receipt?.settlement === 'not-visible' ? 'settlement not visible to this page' : receipt?.reference
    $('byline').textContent += ` · ${paid}${proof ? ` · ${proof}` : ''}`
  } catch (error) {
    show(failure(error), true)
    $('pay').disabled = false
  }
})
