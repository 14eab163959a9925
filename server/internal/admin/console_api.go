package admin

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/audit"
	"gatepass/internal/httpx"
	"gatepass/internal/qr"
	"gatepass/internal/store"
)

// consoleRoutes are what the staff console (issue 17) needed and the API lacked: staff
// invite links, whether a gate confirmed a manual release, the live entry stream, and a
// resident's credentials, devices and consents on one page. Integrations may use them
// like any other route.
func (a *API) consoleRoutes() []route {
	return []route{
		{"POST", "/communities/:community/staff/:staff/invite", access.ActManageStaff, a.inviteStaff},
		{"GET", "/gates/:gate/commands/:command", access.ActOperateGates, a.getCommand},
		{"GET", "/communities/:community/events/stream", access.ActReadEntries, a.streamEvents},
		{"GET", "/communities/:community/residents/:resident/credentials", access.ActReadResidents, a.residentCredentials},
		{"GET", "/communities/:community/audit/verify", access.ActReadAudit, a.verifyAudit},
	}
}

// verifyAudit recomputes the community's audit chain and says whether it is intact, and
// if not, where it breaks.
func (a *API) verifyAudit(c *fiber.Ctx, r *request) error {
	n, err := a.db.VerifyCommunityAudit(c.UserContext(), r.community)
	if errors.Is(err, audit.ErrBroken) {
		return c.JSON(fiber.Map{"intact": false, "rows": n, "error": err.Error()})
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"intact": true, "rows": n})
}

// qrPixels sizes the QR images the console prints: about 4 cm at 300 dpi.
const qrPixels = 480

// qrDataURL is a QR code of text as a data: URL of a PNG, ready for an <img>: made on
// the server with the same encoder as cards, so that what is printed is what a gate or
// phone camera reads.
func qrDataURL(text string) (string, error) {
	png, err := qr.PNG(text, qrPixels)
	if err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}

// residentInvite is an invite as the API answers it: the codes, and when the resident
// app's address is configured, the link and its QR code for the printed letter.
type residentInvite struct {
	store.Invite
	URL string `json:"invite_url,omitempty"`
	QR  string `json:"invite_qr,omitempty"` // data:image/png;base64,...
}

func (a *API) withInviteLink(inv store.Invite) (residentInvite, error) {
	out := residentInvite{Invite: inv}
	if a.console.ResidentAppURL == "" || inv.Code == "" {
		return out, nil
	}
	out.URL = a.console.ResidentAppURL + "/i/" + inv.Code
	var err error
	out.QR, err = qrDataURL(out.URL)
	return out, err
}

// inviteStaff makes a member a one-time link to register a console passkey. Earlier
// unused links of theirs stop working.
func (a *API) inviteStaff(c *fiber.Ctx, r *request) error {
	httpx.NoStore(c)
	return mutate(a, c, r, http.StatusCreated, func(tx *store.Tx) (staffInvite, error) {
		return a.newStaffInvite(c, tx, r.member.ID)
	})
}

// staffInvite is a staff invite as the API answers it: with the console link and its QR
// code when the console is mounted.
type staffInvite struct {
	store.StaffInvite
	URL string `json:"invite_url,omitempty"`
	QR  string `json:"invite_qr,omitempty"`
}

func (a *API) newStaffInvite(c *fiber.Ctx, tx *store.Tx, member uuid.UUID) (staffInvite, error) {
	inv, err := tx.CreateStaffInvite(c.UserContext(), member)
	if err != nil || a.console.StaffInviteURL == nil {
		return staffInvite{StaffInvite: inv}, err
	}
	out := staffInvite{StaffInvite: inv, URL: a.console.StaffInviteURL(inv.Code)}
	out.QR, err = qrDataURL(out.URL)
	return out, err
}

// getCommand says whether the gate has confirmed a command (a manual release).
func (a *API) getCommand(c *fiber.Ctx, r *request) error {
	gate, err := httpx.PathUUID(c, "gate")
	if err != nil {
		return err
	}
	id, err := httpx.PathUUID(c, "command")
	if err != nil {
		return err
	}
	out, err := a.db.GateCommand(c.UserContext(), r.community, gate, id)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// residentCredentials is everything a resident can get in with, on one page: cards, phone
// devices, passkeys (no secrets) and face-entry consents.
func (a *API) residentCredentials(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "resident")
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	if _, err := a.db.Resident(ctx, r.community, id); err != nil {
		return err
	}
	cards, err := a.db.Cards(ctx, r.community, id)
	if err != nil {
		return err
	}
	devices, err := a.db.Devices(ctx, r.community, id)
	if err != nil {
		return err
	}
	passkeys, err := a.db.Passkeys(ctx, r.community, id)
	if err != nil {
		return err
	}
	consents, err := a.db.Consents(ctx, r.community, id)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"cards": cards, "devices": devices, "passkeys": passkeys, "consents": consents})
}

// Live stream bounds: a stream ends before the server's write timeout (60 s) and the
// browser's EventSource reconnects by itself after retry milliseconds, with
// Last-Event-ID unused: each stream starts from its own connection time less overlap.
const (
	streamFor      = 45 * time.Second
	streamEvery    = time.Second
	streamOverlap  = 5 * time.Second
	streamRetryMS  = 1000
	streamPageSize = 50
)

// streamEvents sends the entry log's new events as server-sent events, names resolved
// as in the list, newest last. It polls the database once a second per open console:
// a few guard posts per community, one indexed query each.
func (a *API) streamEvents(c *fiber.Ctx, r *request) error {
	f, err := eventFilter(c)
	if err != nil {
		return err
	}
	community := r.community
	// wait bounds the stream (default and most: streamFor); wait=0s answers what is
	// there now and closes, for a client that polls instead.
	stay := streamFor
	if q := c.Query("wait"); q != "" {
		if stay, err = time.ParseDuration(q); err != nil || stay < 0 || stay > streamFor {
			return access.Invalid("wait", "must be a duration from 0s to %s", streamFor)
		}
	}
	since := time.Now().Add(-streamOverlap)
	if q := c.Query("since"); q != "" {
		if since, err = time.Parse(time.RFC3339Nano, q); err != nil {
			return access.Invalid("since", "must be an RFC 3339 time")
		}
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Accel-Buffering", "no")
	db, done := a.db, a.done
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		// The request's context ends when the handler returns, before the stream does;
		// the stream's own ends when the server stops (done) or the stream does.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-done:
				cancel()
			case <-ctx.Done():
			}
		}()
		fmt.Fprintf(w, "retry: %d\n\n", streamRetryMS)
		if w.Flush() != nil {
			return
		}
		seen := map[uuid.UUID]bool{}
		end := time.After(stay)
		tick := time.NewTicker(streamEvery)
		defer tick.Stop()
		for {
			f.ReceivedAfter, f.Limit, f.Cursor = since, streamPageSize, ""
			qctx, qcancel := context.WithTimeout(ctx, 10*time.Second)
			page, err := db.Events(qctx, community, f)
			qcancel()
			if err != nil {
				fmt.Fprintf(w, "event: error\ndata: {}\n\n")
				_ = w.Flush()
				return
			}
			for i := len(page.Events) - 1; i >= 0; i-- {
				e := page.Events[i]
				if seen[e.ID] {
					continue
				}
				seen[e.ID] = true
				data, _ := json.Marshal(e)
				fmt.Fprintf(w, "event: entry\ndata: %s\n\n", data)
			}
			fmt.Fprintf(w, ": keepalive\n\n")
			if w.Flush() != nil {
				return // the console went away
			}
			if stay == 0 {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-end:
				return
			case <-tick.C:
			}
		}
	})
	return nil
}
