package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/credential"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
)

// parsePhoneKey reads a P-256 public key, SEC 1 compressed or uncompressed, in base64 or
// base64url: what iOS and Android key stores export.
func parsePhoneKey(s string) (*ecdsa.PublicKey, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, access.Invalid("public_key", "must be base64 of a SEC 1 P-256 public key")
	}
	if len(raw) == 33 {
		x, y := elliptic.UnmarshalCompressed(elliptic.P256(), raw)
		if x == nil {
			return nil, access.Invalid("public_key", "is not a point on P-256")
		}
		raw = elliptic.Marshal(elliptic.P256(), x, y) //nolint:staticcheck // only to reach the uncompressed form
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return nil, access.Invalid("public_key", "is not a P-256 public key")
	}
	return pub, nil
}

// createDevice certifies a phone's key for offline codes (type 0x02); the route needs a
// fresh step-up, and the credential records which passkey authorised it.
func (a *API) createDevice(c *fiber.Ctx, s *store.Session) error {
	var in struct {
		PublicKey *string `json:"public_key"`
		Label     *string `json:"label"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	keyText := k.Text("public_key", in.PublicKey, 1, 200)
	label := k.Text("label", in.Label, 0, 100)
	if err := k.Err(); err != nil {
		return err
	}
	pub, err := parsePhoneKey(keyText)
	if err != nil {
		return err
	}
	st, err := a.communities.get(c.UserContext(), s.Community)
	if err != nil {
		return err
	}
	signer, zones := st.signer, st.zones
	valid := credential.DeviceValidity(time.Now())
	compressed := elliptic.MarshalCompressed(elliptic.P256(), pub.X, pub.Y) //nolint:staticcheck // SEC 1 form the token carries
	var dev store.Device
	var cert []byte
	err = a.db.InTx(c.UserContext(), "resident:"+s.Resident.String(), func(tx *store.Tx) (err error) {
		dev, err = tx.CreateDevice(c.UserContext(), store.NewDevice{
			Community: s.Community, Resident: s.Resident, Passkey: s.VerifiedPasskey.UUID, PublicKey: compressed,
			Label: label, Zones: zones, NotBefore: valid.NotBefore, ExpiresAt: valid.ExpiresAt, KID: signer.KID,
		})
		if err != nil {
			return err
		}
		cert, err = credential.IssueDeviceCert(signer, dev.ID, uint64(zones), valid, pub)
		return err
	})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(fiber.Map{"device": dev, "certificate": base64.StdEncoding.EncodeToString(cert)})
}

func (a *API) listDevices(c *fiber.Ctx, s *store.Session) error {
	out, err := a.db.Devices(c.UserContext(), s.Community, s.Resident)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"devices": out})
}

// revokeDevice revokes one of the resident's device credentials.
func (a *API) revokeDevice(c *fiber.Ctx, s *store.Session) error {
	return a.revokeOwn(c, s, "device", func(tx *store.Tx, id uuid.UUID) error {
		return tx.RevokeDevice(c.UserContext(), s.Community, s.Resident, id)
	})
}

// revokeOwn revokes the thing named by a path parameter through a store call that
// finds it only among the resident's own (another resident's is 404).
func (a *API) revokeOwn(c *fiber.Ctx, s *store.Session, param string, revoke func(*store.Tx, uuid.UUID) error) error {
	id, err := httpx.PathUUID(c, param)
	if err != nil {
		return err
	}
	if err := a.db.InTx(c.UserContext(), "resident:"+s.Resident.String(), func(tx *store.Tx) error {
		return revoke(tx, id)
	}); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"revoked": id})
}
