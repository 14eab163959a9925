package main

import (
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
)

// adminRoutes is every admin endpoint with the action it needs; authorize enforces it.
func adminRoutes(s *Server) []route {
	return []route{
		{"POST", "/communities", access.ActCreateCommunity, s.createCommunity},
		{"GET", "/communities", access.ActReadCommunity, s.listCommunities},
		{"GET", "/communities/:community", access.ActReadCommunity, s.getCommunity},
		{"POST", "/communities/:community/buildings", access.ActEditStructure, s.createBuilding},
		{"GET", "/communities/:community/buildings", access.ActReadCommunity, s.listBuildings},
		{"POST", "/communities/:community/units", access.ActEditStructure, s.createUnit},
		{"GET", "/communities/:community/units", access.ActReadCommunity, s.listUnits},
		{"PUT", "/communities/:community/zones/:zone", access.ActEditStructure, s.putZone},
		{"GET", "/communities/:community/zones", access.ActReadCommunity, s.listZones},
		{"POST", "/communities/:community/residents", access.ActEditResidents, s.createResident},
		{"GET", "/communities/:community/residents", access.ActReadResidents, s.listResidents},
		{"GET", "/communities/:community/residents/:resident", access.ActReadResidents, s.getResident},
		{"POST", "/communities/:community/residents/:resident/move-out", access.ActEditResidents, s.moveOut},
		{"POST", "/communities/:community/residents/:resident/invite", access.ActEditResidents, s.reissueInvite},
		{"POST", "/communities/:community/gates", access.ActEditStructure, s.createGate},
		{"GET", "/communities/:community/gates", access.ActReadGates, s.listGates},
		{"POST", "/communities/:community/staff", access.ActManageStaff, s.createStaff},
		{"GET", "/communities/:community/staff", access.ActManageStaff, s.listStaff},
		{"GET", "/communities/:community/keys", access.ActReadCommunity, s.listKeys},
		{"POST", "/communities/:community/keys/rotate", access.ActManageKeys, s.rotateKey},
		{"POST", "/residents/:resident/cards", access.ActOperateGates, s.issueCard},
		{"GET", "/residents/:resident/cards", access.ActOperateGates, s.listCards},
		{"POST", "/residents/:resident/cards/:card/revoke", access.ActOperateGates, s.revokeCard},
		{"GET", "/audit", access.ActReadAudit, s.listAudit},
		{"GET", "/communities/:community/visitor-passes", access.ActOperateGates, s.listVisitorPasses},
		{"POST", "/communities/:community/visitor-passes/:visitor_pass/revoke", access.ActOperateGates, s.revokeVisitorPass},
	}
}

func actor(r *request) string { return "staff:" + r.staff.ID.String() }

// mutate runs fn in one transaction acting as the caller (so its audit row commits with
// the change) and answers fn's result with status.
func mutate[T any](s *Server, c *fiber.Ctx, r *request, status int, fn func(tx *store.Tx) (T, error)) error {
	var out T
	err := s.db.InTx(c.UserContext(), actor(r), func(tx *store.Tx) (err error) {
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

type nameBody struct {
	Name *string `json:"name"`
}

func (s *Server) createCommunity(c *fiber.Ctx, r *request) error {
	var in nameBody
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	name := k.Text("name", in.Name, 1, 200)
	if err := k.Err(); err != nil {
		return err
	}
	return mutate(s, c, r, http.StatusCreated, func(tx *store.Tx) (access.CommunityInfo, error) {
		return tx.CreateCommunity(c.UserContext(), name, s.sealer)
	})
}

func (s *Server) listCommunities(c *fiber.Ctx, r *request) error {
	out, err := s.db.Communities(c.UserContext(), r.staff)
	return listed(c, "communities", out, err)
}

func (s *Server) getCommunity(c *fiber.Ctx, r *request) error {
	out, err := s.db.Community(c.UserContext(), r.community)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) createBuilding(c *fiber.Ctx, r *request) error {
	var in nameBody
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	name := k.Text("name", in.Name, 1, 200)
	if err := k.Err(); err != nil {
		return err
	}
	return mutate(s, c, r, http.StatusCreated, func(tx *store.Tx) (access.Building, error) {
		return tx.CreateBuilding(c.UserContext(), r.community, name)
	})
}

func (s *Server) listBuildings(c *fiber.Ctx, r *request) error {
	out, err := s.db.Buildings(c.UserContext(), r.community)
	return listed(c, "buildings", out, err)
}

func (s *Server) createUnit(c *fiber.Ctx, r *request) error {
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
	return mutate(s, c, r, http.StatusCreated, func(tx *store.Tx) (access.Unit, error) {
		return tx.CreateUnit(c.UserContext(), r.community, building, label)
	})
}

func (s *Server) listUnits(c *fiber.Ctx, r *request) error {
	building := uuid.Nil
	if q := c.Query("building_id"); q != "" {
		var err error
		if building, err = httpx.ParseUUID(q); err != nil {
			return access.Invalid("building_id", "must be a UUID")
		}
	}
	out, err := s.db.Units(c.UserContext(), r.community, building)
	return listed(c, "units", out, err)
}

func (s *Server) putZone(c *fiber.Ctx, r *request) error {
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
	if err := s.db.InTx(c.UserContext(), actor(r), func(tx *store.Tx) error { return tx.PutZone(c.UserContext(), z) }); err != nil {
		return err
	}
	return c.JSON(z)
}

func (s *Server) listZones(c *fiber.Ctx, r *request) error {
	out, err := s.db.Zones(c.UserContext(), r.community)
	return listed(c, "zones", out, err)
}

func (s *Server) createResident(c *fiber.Ctx, r *request) error {
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
		store.Invite
	}
	return mutate(s, c, r, http.StatusCreated, func(tx *store.Tx) (created, error) {
		res, inv, err := tx.CreateResident(c.UserContext(), nr)
		return created{res, inv}, err
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

func (s *Server) listResidents(c *fiber.Ctx, r *request) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	f := store.ResidentFilter{Query: c.Query("q"), Cursor: c.Query("cursor"), Limit: limit}
	if len([]rune(f.Query)) > 100 {
		return access.Invalid("q", "must be at most 100 characters")
	}
	if st := c.Query("status"); st != "" {
		f.Status = access.ResidentStatus(st)
		switch f.Status {
		case access.ResidentActive, access.ResidentMovedOut, access.ResidentDeleted:
		default:
			return access.Invalid("status", "must be active, moved_out or deleted")
		}
	}
	page, err := s.db.Residents(c.UserContext(), r.community, f)
	if err != nil {
		return err
	}
	return c.JSON(page)
}

func (s *Server) getResident(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "resident")
	if err != nil {
		return err
	}
	out, err := s.db.Resident(c.UserContext(), r.community, id)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) moveOut(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "resident")
	if err != nil {
		return err
	}
	return mutate(s, c, r, http.StatusOK, func(tx *store.Tx) (store.MoveOutResult, error) {
		return tx.MoveOut(c.UserContext(), r.community, id)
	})
}

func (s *Server) reissueInvite(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "resident")
	if err != nil {
		return err
	}
	return mutate(s, c, r, http.StatusCreated, func(tx *store.Tx) (store.Invite, error) {
		return tx.ReissueInvite(c.UserContext(), r.community, id)
	})
}

func (s *Server) createGate(c *fiber.Ctx, r *request) error {
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
		store.Enrollment
	}
	return mutate(s, c, r, http.StatusCreated, func(tx *store.Tx) (created, error) {
		g, en, err := tx.CreateGate(c.UserContext(), ng)
		return created{g, en}, err
	})
}

func (s *Server) listGates(c *fiber.Ctx, r *request) error {
	out, err := s.db.Gates(c.UserContext(), r.community)
	return listed(c, "gates", out, err)
}

func (s *Server) createStaff(c *fiber.Ctx, r *request) error {
	var in struct {
		Name *string `json:"name"`
		Role *string `json:"role"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	name := k.Text("name", in.Name, 1, 200)
	role := access.StaffRole(k.OneOf("role", in.Role, access.StaffRoles))
	if err := k.Err(); err != nil {
		return err
	}
	type created struct {
		access.StaffMember
		Token string `json:"token"`
	}
	return mutate(s, c, r, http.StatusCreated, func(tx *store.Tx) (created, error) {
		m, token, err := tx.CreateStaff(c.UserContext(), r.community, name, role)
		return created{m, token}, err
	})
}

func (s *Server) listStaff(c *fiber.Ctx, r *request) error {
	out, err := s.db.StaffMembers(c.UserContext(), r.community)
	return listed(c, "staff", out, err)
}

// listAudit lists audit rows, newest first. Community staff see their community's rows;
// operators see all or filter with community_id.
func (s *Server) listAudit(c *fiber.Ctx, r *request) error {
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
	out, err := s.db.AuditEntries(c.UserContext(), f)
	if err != nil {
		return err
	}
	page := fiber.Map{"entries": out}
	if len(out) == limit {
		page["next_before_seq"] = out[len(out)-1].Seq
	}
	return c.JSON(page)
}
