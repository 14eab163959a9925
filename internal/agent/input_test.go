package agent

import (
	"bufio"
	"strings"
	"testing"

	"gatepass/internal/gate"
)

func TestReadLine(t *testing.T) {
	in := "GA1:ABC\r\n" + strings.Repeat("x", gate.MaxInput*3) + "\n\x00\xff\nlast"
	br := bufio.NewReaderSize(strings.NewReader(in), gate.MaxInput+2)
	var got []int
	for {
		line, err := readLine(br)
		if line != nil {
			got = append(got, len(strings.TrimRight(string(line), "\r")))
		}
		if err != nil {
			break
		}
	}
	// The oversize line comes back cut to more than gate.MaxInput, so Scan refuses it whole.
	if len(got) != 4 || got[0] != 7 || got[1] <= gate.MaxInput || got[2] != 2 || got[3] != 4 {
		t.Fatalf("lines %v", got)
	}
}
