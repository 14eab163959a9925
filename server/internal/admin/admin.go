package admin

import (
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
)

// communityRoutes are the staff endpoints of communities, their structure and people,
// signing keys and cards, visitor passes, and the audit log.
func (a *API) communityRoutes() []route {
	return []route{
		{"POST", "/communities", access.ActCreateCommunity, a.createCommunity},
		{"GET", "/communities", access.ActReadCommunity, a.listCommunities},
		{"GET", "/communities/:community", access.ActReadCommunity, a.getCommunity},
		{"POST", "/communities/:community/buildings", access.ActEditStructure, a.createBuilding},
		{"GET", "/communities/:community/buildings", access.ActReadCommunity, a.listBuildings},
		{"POST", "/communities/:community/units", access.ActEditStructure, a.createUnit},
		{"GET", "/communities/:community/units", access.ActReadCommunity, a.listUnits},
		{"PUT", "/communities/:community/zones/:zone", access.ActEditStructure, a.putZone},
		{"GET", "/communities/:community/zones", access.ActReadCommunity, a.listZones},
		{"POST", "/communities/:community/residents", access.ActEditResidents, a.createResident},
		{"GET", "/communities/:community/residents", access.ActReadResidents, a.listResidents},
		{"GET", "/communities/:community/residents/:resident", access.ActReadResidents, a.getResident},
		{"POST", "/communities/:community/residents/:resident/move-out", access.ActEditResidents, a.moveOut},
		{"POST", "/communities/:community/residents/:resident/invite", access.ActEditResidents, a.reissueInvite},
		{"POST", "/communities/:community/gates", access.ActEditStructure, a.createGate},
		{"GET", "/communities/:community/gates", access.ActReadGates, a.listGates},
		{"GET", "/communities/:community/keys", access.ActReadCommunity, a.listKeys},
		{"POST", "/communities/:community/keys/rotate", access.ActManageKeys, a.rotateKey},
		{"POST", "/communities/:community/keys/:kid/compromise", access.ActManageKeys, a.compromiseKey},
		{"POST", "/residents/:resident/cards", access.ActOperateGates, a.issueCard},
		{"GET", "/residents/:resident/cards", access.ActOperateGates, a.listCards},
		{"POST", "/residents/:resident/cards/:card/revoke", access.ActOperateGates, a.revokeCard},
		{"GET", "/audit", access.ActReadAudit, a.listAudit},
		{"GET", "/communities/:community/visitor-passes", access.ActOperateGates, a.listVisitorPasses},
		{"POST", "/communities/:community/visitor-passes/:visitor_pass/revoke", access.ActOperateGates, a.revokeVisitorPass},
	}
}

func actor(r *request) string { return "staff:" + r.staff.ID.String() }

// mutate runs fn in one transaction acting as the caller (so its audit row commits with
// the change) and answers fn's result with status.
func mutate[T any](a *API, c *fiber.Ctx, r *request, status int, fn func(tx *store.Tx) (T, error)) error {
	var out T
	err := a.db.InTx(c.UserContext(), actor(r), func(tx *store.Tx) (err error) {
		out, err = fn(tx)
		return err
	})
	if err != nil {
		return err
	}
	return c.Status(status).JSON(out)
}

// listed answers a list as {key: items}.
func listed[T any](c *fiber.Ctx, key string, items []T, err error) error {
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{key: items})
}

// reasonBody reads the body {"reason"} of an action whose reason staff must give (the
// audit row keeps it): 1 to 200 characters.
func reasonBody(c *fiber.Ctx) (string, error) {
	var in struct {
		Reason *string `json:"reason"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return "", err
	}
	var k httpx.Checker
	reason := k.Text("reason", in.Reason, 1, 200)
	return reason, k.Err()
}

type nameBody struct {
	Name *string `json:"name"`
}

func (a *API) createCommunity(c *fiber.Ctx, r *request) error {
	var in nameBody
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	name := k.Text("name", in.Name, 1, 200)
	if err := k.Err(); err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusCreated, func(tx *store.Tx) (access.CommunityInfo, error) {
		return tx.CreateCommunity(c.UserContext(), name, a.sealer)
	})
}

func (a *API) listCommunities(c *fiber.Ctx, r *request) error {
	out, err := a.db.Communities(c.UserContext(), r.staff)
	return listed(c, "communities", out, err)
}

func (a *API) getCommunity(c *fiber.Ctx, r *request) error {
	out, err := a.db.Community(c.UserContext(), r.community)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// createBuilding adds a building; its residents open the perimeter and the zones given
// (none: the perimeter only, until PUT .../buildings/{building} gives it some).
func (a *API) createBuilding(c *fiber.Ctx, r *request) error {
	var in struct {
		Name  *string `json:"name"`
		Zones []int   `json:"zones"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	name := k.Text("name", in.Name, 1, 200)
	if err := k.Err(); err != nil {
		return err
	}
	zones, err := zonesField("zones", in.Zones)
	if err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusCreated, func(tx *store.Tx) (access.Building, error) {
		return tx.CreateBuildingZones(c.UserContext(), r.community, name, zones)
	})
}

func (a *API) listBuildings(c *fiber.Ctx, r *request) error {
	out, err := a.db.Buildings(c.UserContext(), r.community)
	return listed(c, "buildings", out, err)
}

func (a *API) createUnit(c *fiber.Ctx, r *request) error {
	var in struct {
		Building *string `json:"building_id"`
		Label    *string `json:"label"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	building := k.UUID("building_id", in.Building)
	label := k.Text("label", in.Label, 1, 100)
	if err := k.Err(); err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusCreated, func(tx *store.Tx) (access.Unit, error) {
		return tx.CreateUnit(c.UserContext(), r.community, building, label)
	})
}

func (a *API) listUnits(c *fiber.Ctx, r *request) error {
	building := uuid.Nil
	if q := c.Query("building_id"); q != "" {
		var err error
		if building, err = httpx.ParseUUID(q); err != nil {
			return access.Invalid("building_id", "must be a UUID")
		}
	}
	out, err := a.db.Units(c.UserContext(), r.community, building)
	return listed(c, "units", out, err)
}

func (a *API) putZone(c *fiber.Ctx, r *request) error {
	zone, err := strconv.Atoi(c.Params("zone"))
	if err != nil || zone < 0 || zone >= access.MaxZones {
		return access.Invalid("zone", "must be a number from 0 to %d", access.MaxZones-1)
	}
	var in struct {
		Name         *string `json:"name"`
		AntiPassback *bool   `json:"anti_passback"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	z := access.Zone{Community: r.community, Zone: zone, Name: k.Text("name", in.Name, 1, 200)}
	if err := k.Err(); err != nil {
		return err
	}
	if in.AntiPassback != nil {
		z.AntiPassback = *in.AntiPassback
	}
	if err := a.db.InTx(c.UserContext(), actor(r), func(tx *store.Tx) error { return tx.PutZone(c.UserContext(), z) }); err != nil {
		return err
	}
	return c.JSON(z)
}

func (a *API) listZones(c *fiber.Ctx, r *request) error {
	out, err := a.db.Zones(c.UserContext(), r.community)
	return listed(c, "zones", out, err)
}

func (a *API) createResident(c *fiber.Ctx, r *request) error {
	var in struct {
		Name    *string `json:"name"`
		Phone   *string `json:"phone"`
		Under14 *bool   `json:"under_14"`
		Unit    *string `json:"unit_id"`
		Role    *string `json:"role"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	nr := store.NewResident{
		Community: r.community,
		Name:      k.Text("name", in.Name, 1, 200),
		Unit:      k.UUID("unit_id", in.Unit),
		Role:      access.ResidentRole(k.OneOf("role", in.Role, access.ResidentRoles)),
	}
	if in.Phone != nil {
		phone := k.Text("phone", in.Phone, 0, 40)
		nr.Phone = &phone
	}
	if err := k.Err(); err != nil {
		return err
	}
	nr.Under14 = in.Under14 != nil && *in.Under14
	type created struct {
		access.Resident
		residentInvite
	}
	httpx.NoStore(c) // the invite code
	return mutate(a, c, r, http.StatusCreated, func(tx *store.Tx) (created, error) {
		res, inv, err := tx.CreateResident(c.UserContext(), nr)
		if err != nil {
			return created{}, err
		}
		link, err := a.withInviteLink(inv)
		return created{res, link}, err
	})
}

// maxPage bounds a page of any list.
const maxPage = 500

func pageLimit(c *fiber.Ctx) (int, error) {
	q := c.Query("limit")
	if q == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 || n > maxPage {
		return 0, access.Invalid("limit", "must be a number from 1 to %d", maxPage)
	}
	return n, nil
}

func (a *API) listResidents(c *fiber.Ctx, r *request) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	// Only callers who see phone numbers whole may search by them: a guard matching
	// digits one by one would read them back.
	f := store.ResidentFilter{Query: c.Query("q"), Cursor: c.Query("cursor"), Limit: limit,
		Phone: r.staff.SeesPhones()}
	var k httpx.Checker
	if f.Query != "" {
		f.Query = k.Text("q", &f.Query, 0, 100)
	}
	if err := k.Err(); err != nil {
		return err
	}
	if st := c.Query("status"); st != "" {
		f.Status = access.ResidentStatus(st)
		switch f.Status {
		case access.ResidentActive, access.ResidentMovedOut, access.ResidentDeleted:
		default:
			return access.Invalid("status", "must be active, moved_out or deleted")
		}
	}
	page, err := a.db.Residents(c.UserContext(), r.community, f)
	if err != nil {
		return err
	}
	for i := range page.Residents {
		page.Residents[i].Phone = phoneFor(r.staff, page.Residents[i].Phone)
	}
	return c.JSON(page)
}

// phoneFor is the phone number the caller's role may see (access.Staff.Phone): whole for
// admins, masked for guards.
func phoneFor(s access.Staff, phone *string) *string {
	if phone == nil {
		return nil
	}
	p := s.Phone(*phone)
	return &p
}

func (a *API) getResident(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "resident")
	if err != nil {
		return err
	}
	out, err := a.db.Resident(c.UserContext(), r.community, id)
	if err != nil {
		return err
	}
	out.Phone = phoneFor(r.staff, out.Phone)
	return c.JSON(out)
}

func (a *API) moveOut(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "resident")
	if err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (access.MoveOutResult, error) {
		return tx.MoveOut(c.UserContext(), r.community, id)
	})
}

func (a *API) reissueInvite(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "resident")
	if err != nil {
		return err
	}
	httpx.NoStore(c) // the invite code
	return mutate(a, c, r, http.StatusCreated, func(tx *store.Tx) (residentInvite, error) {
		inv, err := tx.ReissueInvite(c.UserContext(), r.community, id)
		if err != nil {
			return residentInvite{}, err
		}
		return a.withInviteLink(inv)
	})
}

func (a *API) createGate(c *fiber.Ctx, r *request) error {
	var in struct {
		Name      *string `json:"name"`
		Zone      *int    `json:"zone"`
		Direction *string `json:"direction"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	ng := store.NewGate{
		Community: r.community,
		Name:      k.Text("name", in.Name, 1, 200),
		Zone:      k.Int("zone", in.Zone, 0, access.MaxZones-1),
		Direction: k.OneOf("direction", in.Direction, access.Directions),
	}
	if err := k.Err(); err != nil {
		return err
	}
	type created struct {
		access.Gate
		access.Enrollment
		// The enrollment code as a QR code, for the installer's phone or scanner.
		QR string `json:"enrollment_qr"`
	}
	httpx.NoStore(c) // the enrollment code
	return mutate(a, c, r, http.StatusCreated, func(tx *store.Tx) (created, error) {
		g, en, err := tx.CreateGate(c.UserContext(), ng)
		if err != nil {
			return created{}, err
		}
		png, err := qrDataURL(en.Code)
		return created{g, en, png}, err
	})
}

func (a *API) listGates(c *fiber.Ctx, r *request) error {
	out, err := a.db.Gates(c.UserContext(), r.community)
	return listed(c, "gates", out, err)
}

// listAudit lists audit rows, newest first. Community staff see their community's rows;
// operators see all or filter with community_id.
func (a *API) listAudit(c *fiber.Ctx, r *request) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	f := store.AuditFilter{Community: r.staff.Community, Limit: limit}
	if q := c.Query("community_id"); q != "" {
		id, err := httpx.ParseUUID(q)
		if err != nil {
			return access.Invalid("community_id", "must be a UUID")
		}
		if err := r.staff.Authorize(access.ActReadAudit, id); err != nil {
			return err
		}
		f.Community = id
	}
	if q := c.Query("before_seq"); q != "" {
		if f.BeforeSeq, err = strconv.ParseInt(q, 10, 64); err != nil || f.BeforeSeq < 1 {
			return access.Invalid("before_seq", "must be a positive number")
		}
	}
	out, err := a.db.AuditEntries(c.UserContext(), f)
	if err != nil {
		return err
	}
	page := fiber.Map{"entries": out}
	if len(out) == limit {
		page["next_before_seq"] = out[len(out)-1].Seq
	}
	return c.JSON(page)
}
