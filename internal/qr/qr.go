// Package qr renders gatepass QR texts as PNG images and, for tests and
// tools, reads them back with a real decoder.
//
// Rendering uses error-correction level M (15 % of the code words may be
// lost): the phone screen is clean and flat, so the denser codes of level L
// would do, but M keeps cracked screens and laminated cards readable while
// the longest token still fits in version 10.
package qr

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// MaxSize caps the image side in pixels: sizes may come from a request
// parameter, and a 4096² PNG is already far beyond any screen or printer need.
const MaxSize = 4096

// PNG renders text as a square PNG of size×size pixels with the standard
// 4-module quiet zone. If size is smaller than the code needs (one pixel
// per module), the image is made just large enough instead; but decoders
// want at least two pixels per module (zbar reads none of our codes at
// one), so ask for 2·(17+4·version+8) pixels or more: 146 for version 10.
func PNG(text string, size int) ([]byte, error) {
	if size < 1 || size > MaxSize {
		return nil, fmt.Errorf("qr: size %d outside 1..%d", size, MaxSize)
	}
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	return q.PNG(size)
}

// Version is the QR version (1..40) text needs at level M: the side is
// 17+4·version modules.
func Version(text string) (int, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return 0, fmt.Errorf("qr: %w", err)
	}
	return q.VersionNumber, nil
}

// ErrNoDecoder is returned by Decode when zbarimg is not installed (Debian
// package zbar-tools).
var ErrNoDecoder = errors.New("qr: zbarimg not found: run scripts/testdeps")

// Decode reads the one QR code in a PNG with zbarimg, an independent
// decoder, so a test proves what a real scanner would see. It is for tests
// and tools only: it runs a program and writes a temporary file, which no
// server or gate path should do per request.
func Decode(png []byte) (string, error) {
	f, err := os.CreateTemp("", "gatepass-qr-*.png")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(png); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return DecodeFile(f.Name())
}

// DecodeFile is Decode for an image already on disk.
func DecodeFile(path string) (string, error) {
	bin, err := exec.LookPath("zbarimg")
	if err != nil {
		return "", ErrNoDecoder
	}
	// -q: no summary line; --raw: the payload only. stderr is left out: zbar
	// prints D-Bus warnings there that say nothing about the image.
	var out bytes.Buffer
	cmd := exec.Command(bin, "-q", "--raw", path)
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 4 {
			return "", fmt.Errorf("qr: no QR code found in %s", path)
		}
		return "", fmt.Errorf("qr: zbarimg: %w", err)
	}
	text := strings.TrimSuffix(out.String(), "\n")
	if strings.Contains(text, "\n") {
		return "", fmt.Errorf("qr: more than one code in %s", path)
	}
	return text, nil
}
