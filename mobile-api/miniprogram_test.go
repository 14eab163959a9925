package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatepass/internal/qr"
)

// The WeChat mini-program (miniprogram/) is tested under node with miniprogram-simulate,
// from miniprogram-test/ (its npm packages are installed by scripts/testdeps).
const miniProgramTests = "miniprogram-test"

// nodeFor finds node and the test packages, or skips (node absent) or fails (packages
// not installed).
func nodeFor(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("SKIPPED: node is not installed, so the WeChat mini-program's tests cannot run (install node 20 or newer, then scripts/testdeps)")
	}
	if _, err := os.Stat(filepath.Join(miniProgramTests, "node_modules", "miniprogram-simulate")); err != nil {
		t.Fatalf("the mini-program's test packages are not installed: run scripts/testdeps (npm ci in mobile-api/%s)", miniProgramTests)
	}
	return node
}

func runNode(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeFor(t), args...)
	cmd.Dir = miniProgramTests
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// TestMiniProgram runs the pages' and the logic's tests (node's test runner).
func TestMiniProgram(t *testing.T) {
	out := runNode(t, "--test", "--test-reporter=tap", "pages.test.js", "logic.test.js")
	if !bytes.Contains(out, []byte("\n# fail 0")) || bytes.Contains(out, []byte("\n# pass 0")) {
		t.Fatalf("mini-program tests:\n%s", out)
	}
	t.Logf("mini-program: %s", bytes.TrimSpace(out[bytes.LastIndex(out, []byte("# tests")):]))
}

// The QR the mini-program draws for a GA1: text (its vendored encoder, its drawing on
// the canvas) decodes back to the same text with zbarimg, and the pass it fetched with
// a WeChat session verifies as a gate's would.
func TestMiniProgramQRDecodes(t *testing.T) {
	nodeFor(t)
	h := newHarness(t, testLimits)
	f := h.community()
	w := h.weChatResident(f)
	pass := h.Must(200, "GET", "/api/v1/pass", w.token, nil)
	payload := pass["payload"].(string)
	// The longest text a phone shows: a device presentation, 309 characters (version 10).
	long := "GA1:" + strings.Repeat("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 9)[:305]
	for _, text := range []string{payload, long} {
		var drawn struct {
			Size int     `json:"size"`
			Ops  [][]any `json:"ops"`
		}
		if err := json.Unmarshal(runNode(t, "qr-draw.js", text, "560"), &drawn); err != nil {
			t.Fatal(err)
		}
		img := paint(t, drawn.Size, drawn.Ops)
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		got, err := qr.Decode(buf.Bytes())
		if err != nil {
			t.Fatalf("zbarimg on the mini-program's drawing of %q: %v", text, err)
		}
		if got != text {
			t.Fatalf("decoded %q, drew %q", got, text)
		}
	}
	h.verifyPass(f.id, map[string]any{"payload": payload, "expires_at": pass["expires_at"], "refresh_after": pass["refresh_after"]})
}

// paint replays recorded fillRect calls ([colour, x, y, w, h]) on a white canvas.
func paint(t *testing.T, size int, ops [][]any) *image.Gray {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, size, size))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	for _, op := range ops {
		if len(op) != 5 {
			t.Fatalf("op %v", op)
		}
		var c color.Gray
		switch op[0] {
		case "#ffffff":
			c = color.Gray{Y: 255}
		case "#000000":
			c = color.Gray{Y: 0}
		default:
			t.Fatalf("colour %s", op[0])
		}
		n := make([]int, 4)
		for i := range n {
			v, ok := op[i+1].(float64)
			if !ok || v != float64(int(v)) {
				t.Fatalf("op %v: not whole pixels", op)
			}
			n[i] = int(v)
		}
		draw.Draw(img, image.Rect(n[0], n[1], n[0]+n[2], n[1]+n[3]), &image.Uniform{C: c}, image.Point{}, draw.Src)
	}
	return img
}
