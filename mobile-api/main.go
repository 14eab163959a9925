// Command mobile-api serves residents' phones: passkeys, rotating QR codes, device
// credentials, visitor passes and the resident web app. Not written yet (issue 4).
package main

import (
	"fmt"
	"os"
)

const usage = `usage: mobile-api serve

The resident API is not implemented yet; see the open issue "Resident mobile API and web app".
`

func main() {
	fmt.Fprint(os.Stderr, usage)
	os.Exit(2)
}
