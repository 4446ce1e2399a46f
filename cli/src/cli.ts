import { exitCodes } from './exitCodes.js'
import { main } from './main.js'

// The bin: run one command line, exit with its code. Secrets never reach stderr: failures print
// only their code and message.

// A reader that closed stdout (`payfetch report | head -1`) is no crash: the commands that write a
// paid answer watch their own writes and say what was lost (exit 23).
process.stdout.on('error', () => {})
main(process.argv.slice(2), process.env, {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
}).then(
  (code) => {
    process.exitCode = code
  },
  () => {
    process.stderr.write('payfetch: unexpected failure.\n')
    process.exitCode = exitCodes.unknown
  },
)
