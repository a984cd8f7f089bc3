#!/bin/sh
# linesight with the Node.js it was built against (its native modules are tied to that version).
# A 2 MB young generation and two malloc arenas keep the resident set small (docs/performance.md).
MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
export MALLOC_ARENA_MAX
exec /usr/lib/linesight/node/bin/node --max-semi-space-size=2 /usr/lib/linesight/dist/src/cli/main.js "$@"
