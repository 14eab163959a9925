package admin

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
)

// gateRoutes are the staff endpoints of gates and the entry log.
func (a *API) gateRoutes() []route {
	return []route{
		{"GET", "/gates/:gate", access.ActReadGates, a.getGate},
		{"POST", "/gates/:gate/unlock", access.ActOperateGates, a.unlockGate},
		{"POST", "/gates/:gate/disable", access.ActEditStructure, a.disableGate},
		{"PUT", "/gates/:gate/settings", access.ActEditStructure, a.putGateSettings},
		{"GET", "/communities/:community/events", access.ActReadEntries, a.listEvents},
		{"GET", "/communities/:community/events.csv", access.ActReadEntries, a.exportEvents},
		{"GET", "/communities/:community/anomalies", access.ActReadEntries, a.listAnomalies},
	}
}

// getGate shows one gate as the gate list does: last heartbeat, queue, clock offset
// and clock alarm.
func (a *API) getGate(c *fiber.Ctx, r *request) error {
	gate, err := httpx.PathUUID(c, "gate")
	if err != nil {
		return err
	}
	out, err := a.db.Gate(c.UserContext(), r.community, gate)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) unlockGate(c *fiber.Ctx, r *request) error {
	gate, err := httpx.PathUUID(c, "gate")
	if err != nil {
		return err
	}
	reason, err := reasonBody(c)
	if err != nil {
		return err
	}
	var out access.Release
	err = a.db.InTx(c.UserContext(), actor(r), func(tx *store.Tx) (err error) {
		out, err = tx.UnlockGate(c.UserContext(), r.community, gate, r.staff.ID, reason)
		return err
	})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(out)
}

func (a *API) disableGate(c *fiber.Ctx, r *request) error {
	gate, err := httpx.PathUUID(c, "gate")
	if err != nil {
		return err
	}
	err = a.db.InTx(c.UserContext(), actor(r), func(tx *store.Tx) error {
		return tx.DisableGate(c.UserContext(), r.community, gate)
	})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"gate_id": gate, "disabled": true})
}

func (a *API) putGateSettings(c *fiber.Ctx, r *request) error {
	gate, err := httpx.PathUUID(c, "gate")
	if err != nil {
		return err
	}
	var in access.GateSettings
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	if field, err := in.Validate(); err != nil {
		return access.Invalid(field, "%s", err.Error())
	}
	err = a.db.InTx(c.UserContext(), actor(r), func(tx *store.Tx) error {
		return tx.SetGateSettings(c.UserContext(), r.community, gate, in)
	})
	if err != nil {
		return err
	}
	return c.JSON(in.WithDefaults())
}

// eventFilter reads the entry log filters of the query string.
func eventFilter(c *fiber.Ctx) (store.EventFilter, error) {
	var f store.EventFilter
	times := []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}}
	for _, t := range times {
		if q := c.Query(t.name); q != "" {
			v, err := time.Parse(time.RFC3339, q)
			if err != nil {
				return f, access.Invalid(t.name, "must be an RFC 3339 time")
			}
			*t.dst = v
		}
	}
	ids := []struct {
		name string
		dst  *uuid.UUID
	}{{"gate_id", &f.Gate}, {"credential_id", &f.Credential}}
	for _, p := range ids {
		if q := c.Query(p.name); q != "" {
			v, err := httpx.ParseUUID(q)
			if err != nil {
				return f, access.Invalid(p.name, "must be a UUID")
			}
			*p.dst = v
		}
	}
	if q := c.Query("result"); q != "" {
		if !slices.Contains(access.EventResults, q) {
			return f, access.Invalid("result", "must be granted or denied")
		}
		f.Result = q
	}
	if q := c.Query("method"); q != "" {
		if !slices.Contains(access.EventMethods, q) {
			return f, access.Invalid("method", "must be one of %s", strings.Join(access.EventMethods, ", "))
		}
		f.Method = q
	}
	if q := c.Query("reason"); q != "" {
		if len(q) > 64 {
			return f, access.Invalid("reason", "is at most 64 characters")
		}
		f.Reason = q
	}
	if q := c.Query("who"); q != "" {
		var k httpx.Checker
		f.Who = k.Text("who", &q, 1, 100)
		if err := k.Err(); err != nil {
			return f, err
		}
	}
	if len(c.Query("cursor")) > 200 {
		return f, access.Invalid("cursor", "is not a cursor from a previous page")
	}
	f.Cursor = c.Query("cursor")
	return f, nil
}

func (a *API) listEvents(c *fiber.Ctx, r *request) error {
	f, err := eventFilter(c)
	if err != nil {
		return err
	}
	if f.Limit, err = pageLimit(c); err != nil {
		return err
	}
	page, err := a.db.Events(c.UserContext(), r.community, f)
	if err != nil {
		return err
	}
	return c.JSON(page)
}

// maxExport bounds one CSV export; narrow the time range for more.
const maxExport = 100000

// exportEvents writes the filtered entry log as CSV. The export is audited before the
// data leaves: who exported what range of whose entries.
func (a *API) exportEvents(c *fiber.Ctx, r *request) error {
	f, err := eventFilter(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	// The names come last, so that a reader of the columns before them is not moved.
	_ = w.Write([]string{"id", "occurred_at", "received_at", "gate_id", "credential_id", "subject", "method", "result", "reason", "offline", "stale", "staff_id",
		"gate", "resident", "unit", "visitor", "staff"})
	rows := 0
	f.Limit = maxPage
	for rows < maxExport {
		page, err := a.db.Events(c.UserContext(), r.community, f)
		if err != nil {
			return err
		}
		for _, e := range page.Events {
			_ = w.Write(csvCells(e.ID.String(), e.OccurredAt.UTC().Format(time.RFC3339Nano), e.ReceivedAt.UTC().Format(time.RFC3339Nano),
				e.Gate.String(), optUUID(e.Credential), optString(e.Subject), e.Method, e.Result, e.Reason,
				strconv.FormatBool(e.Offline), strconv.FormatBool(e.Stale), optUUID(e.Staff),
				optString(e.GateName), optString(e.ResidentName), optString(e.UnitLabel), optString(e.VisitorLabel), optString(e.StaffName)))
		}
		rows += len(page.Events)
		if page.Next == "" {
			break
		}
		f.Cursor = page.Next
	}
	w.Flush()
	err = a.db.InTx(c.UserContext(), actor(r), func(tx *store.Tx) error {
		return tx.Audit(c.UserContext(), r.community, "events.export", "community:"+r.community.String(), map[string]any{
			"rows": rows, "from": c.Query("from"), "to": c.Query("to"), "gate_id": c.Query("gate_id"),
			"result": c.Query("result"), "credential_id": c.Query("credential_id"),
			"method": c.Query("method"), "reason": c.Query("reason"), "who": c.Query("who"),
		})
	})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="entry-events.csv"`)
	return c.Send(buf.Bytes())
}

// csvCells makes the cells of one exported row safe to open in a spreadsheet: a cell
// that starts with = + - @ (or a tab or carriage return, which some spreadsheets skip
// before one) would be read as a formula, so it gets a leading apostrophe (OWASP's
// advice on CSV injection). Gates report reason codes only, but rows stored before that
// check, or a future free-text column, must not reach a guard's spreadsheet as code.
func csvCells(cells ...string) []string {
	for i, c := range cells {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			cells[i] = "'" + c
		}
	}
	return cells
}

func optUUID(id *uuid.UUID) string {
	if id == nil {
		return ""
	}
	return id.String()
}

func optString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (a *API) listAnomalies(c *fiber.Ctx, r *request) error {
	from := time.Now().Add(-30 * 24 * time.Hour)
	if q := c.Query("from"); q != "" {
		v, err := time.Parse(time.RFC3339, q)
		if err != nil {
			return access.Invalid("from", "must be an RFC 3339 time")
		}
		from = v
	}
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	out, err := a.db.Anomalies(c.UserContext(), r.community, from, limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"anomalies": out})
}
