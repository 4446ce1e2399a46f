import fc from 'fast-check'

// Property tests run on a fixed seed, so `npm test` gives the same answer every time; `npm run fuzz`
// (FUZZ_SEED=random) explores new inputs, and a failure there names its seed to pin as an example.
const seed = process.env.FUZZ_SEED ?? '20261201'
if (seed !== 'random') fc.configureGlobal({ seed: Number(seed) })
