// Command gate-agent runs on a gate's reader box: it decides at the door, offline if it
// must, and reports every decision to the server. Not written yet (issue 5).
package main

import (
	"fmt"
	"os"
)

const usage = `usage: gate-agent enroll|run|status|check

The gate agent is not implemented yet; see the open issue "Gate agent and gate API".
`

func main() {
	fmt.Fprint(os.Stderr, usage)
	os.Exit(2)
}
