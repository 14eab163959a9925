package qr_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
	"gatepass/internal/qr"
)

// tokens mints one token of each type with fresh keys.
func tokens(t *testing.T) map[credential.Type]string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := credential.Signer{KID: 42, Key: priv}
	now := time.Now()
	c := credential.Claims{CredentialID: uuid.New(), Subject: credential.SubjectResident, Zones: 1,
		NotBefore: now, ExpiresAt: now.Add(time.Minute)}
	issued, err := credential.MintIssued(s, c)
	if err != nil {
		t.Fatal(err)
	}
	c.ExpiresAt = now.Add(credential.MaxCardLifetime)
	card, err := credential.MintCard(s, c)
	if err != nil {
		t.Fatal(err)
	}
	phone, err := ecdsa.GenerateKey(elliptic.P256(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.ExpiresAt = now.Add(credential.MaxDeviceCertLifetime)
	cert, err := credential.CertifyDevice(s, c, &phone.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	device, err := credential.PresentDevice(cert, phone, now)
	if err != nil {
		t.Fatal(err)
	}
	return map[credential.Type]string{credential.TypeIssued: issued, credential.TypeCard: card, credential.TypeDevice: device}
}

// TestRoundTripZbar renders every token type and reads it back with zbarimg,
// as a gate's scanner would.
func TestRoundTripZbar(t *testing.T) {
	// Versions follow from the QR alphanumeric capacities at level M:
	// 169 characters need version 7 (v6 holds 154, v7 178); 309 need
	// version 10 (v9 holds 259, v10 311).
	wantVersion := map[credential.Type]int{credential.TypeIssued: 7, credential.TypeCard: 7, credential.TypeDevice: 10}
	dir := t.TempDir()
	for typ, text := range tokens(t) {
		v, err := qr.Version(text)
		if err != nil {
			t.Fatal(err)
		}
		if v != wantVersion[typ] {
			t.Errorf("%s (%d chars): version %d, want %d", typ, len(text), v, wantVersion[typ])
		}
		// 146 px is two pixels per module for version 10 (57 modules + 8
		// of quiet zone), the least zbar reads: at one pixel it finds nothing.
		for _, size := range []int{146, 256, 600} {
			img, err := qr.PNG(text, size)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(img))
			if err != nil {
				t.Fatalf("%s: not a PNG: %v", typ, err)
			}
			// One pixel per module at least: 17+4v modules plus the quiet zone.
			if minSide := 17 + 4*v + 8; cfg.Width != cfg.Height || cfg.Width < max(size, minSide) {
				t.Errorf("%s size %d: image %dx%d", typ, size, cfg.Width, cfg.Height)
			}
			path := filepath.Join(dir, typ.String()+".png")
			if err := os.WriteFile(path, img, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := qr.DecodeFile(path)
			if errors.Is(err, qr.ErrNoDecoder) {
				t.Fatal("zbarimg not found: run scripts/testdeps")
			}
			if err != nil {
				t.Fatalf("%s size %d: %v", typ, size, err)
			}
			if got != text {
				t.Fatalf("%s size %d: decoded\n%q\nwant\n%q", typ, size, got, text)
			}
			if got, err := qr.Decode(img); err != nil || got != text {
				t.Fatalf("%s size %d: Decode = %q, %v", typ, size, got, err)
			}
		}
	}
}

func TestPNGSize(t *testing.T) {
	for _, size := range []int{0, -1, -8, qr.MaxSize + 1} {
		if _, err := qr.PNG("GA1:BB8", size); err == nil {
			t.Errorf("size %d accepted", size)
		}
	}
	if _, err := qr.PNG("GA1:BB8", qr.MaxSize); err != nil {
		t.Errorf("size %d: %v", qr.MaxSize, err)
	}
}

func TestTooLong(t *testing.T) {
	long := strings.Repeat("A", 5000) // beyond version 40 at level M
	if _, err := qr.PNG(long, 100); err == nil {
		t.Error("PNG of 5000 characters succeeded")
	}
	if _, err := qr.Version(long); err == nil {
		t.Error("Version of 5000 characters succeeded")
	}
}

func TestDecodeNoCode(t *testing.T) {
	if _, err := exec.LookPath("zbarimg"); err != nil {
		t.Fatal("zbarimg not found: run scripts/testdeps")
	}
	for name, data := range map[string][]byte{
		"blank image":  blankPNG(t),
		"not an image": []byte("hello"),
	} {
		if got, err := qr.Decode(data); err == nil {
			t.Errorf("%s: decoded %q", name, got)
		}
	}
}

func blankPNG(t *testing.T) []byte {
	img := image.NewGray(image.Rect(0, 0, 200, 200))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
