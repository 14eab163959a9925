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
	var got []string
	for {
		line, cut, err := readLine(br)
		switch {
		case cut:
			got = append(got, "cut")
		case line != nil:
			got = append(got, string(line))
		}
		if err != nil {
			break
		}
	}
	// Each line with its ending (gate.Frame strips it); the oversize one skipped, unread.
	if strings.Join(got, "|") != "GA1:ABC\r\n|cut|\x00\xff\n|last" {
		t.Fatalf("lines %q", got)
	}
}
