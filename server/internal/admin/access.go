package admin

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
)

// accessRoutes are the staff endpoints of who may enter where and when (issue 16):
// the community's access settings, buildings' zones, access groups, the policies that
// give residents their groups, passholders and their cards, and lockdowns. Admins change
// them; guards read them and start or lift a lockdown; auditors read.
func (a *API) accessRoutes() []route {
	return []route{
		{"GET", "/communities/:community/access-settings", access.ActReadAccess, a.getAccessSettings},
		{"PUT", "/communities/:community/access-settings", access.ActEditAccess, a.putAccessSettings},
		{"PUT", "/communities/:community/buildings/:building", access.ActEditAccess, a.putBuilding},
		{"GET", "/communities/:community/access-groups", access.ActReadAccess, a.listAccessGroups},
		{"POST", "/communities/:community/access-groups", access.ActEditAccess, a.createAccessGroup},
		{"GET", "/communities/:community/access-groups/:group", access.ActReadAccess, a.getAccessGroup},
		{"PUT", "/communities/:community/access-groups/:group", access.ActEditAccess, a.putAccessGroup},
		{"DELETE", "/communities/:community/access-groups/:group", access.ActEditAccess, a.deleteAccessGroup},
		{"GET", "/communities/:community/access-policies", access.ActReadAccess, a.listAccessPolicies},
		{"PUT", "/communities/:community/access-policies/:level/:target", access.ActEditAccess, a.putAccessPolicy},
		{"DELETE", "/communities/:community/access-policies/:level/:target", access.ActEditAccess, a.deleteAccessPolicy},
		{"GET", "/communities/:community/residents/:resident/access", access.ActReadAccess, a.residentAccess},
		{"GET", "/communities/:community/passholders", access.ActReadAccess, a.listPassholders},
		{"POST", "/communities/:community/passholders", access.ActEditAccess, a.createPassholder},
		{"PUT", "/communities/:community/passholders/:passholder", access.ActEditAccess, a.putPassholder},
		{"POST", "/communities/:community/passholders/:passholder/end", access.ActEditAccess, a.endPassholder},
		{"POST", "/communities/:community/passholders/:passholder/cards", access.ActOperateGates, a.issuePassholderCard},
		{"GET", "/communities/:community/passholders/:passholder/cards", access.ActOperateGates, a.listPassholderCards},
		{"POST", "/communities/:community/passholders/:passholder/cards/:card/revoke", access.ActOperateGates, a.revokePassholderCard},
		{"GET", "/communities/:community/lockdowns", access.ActReadAccess, a.listLockdowns},
		{"POST", "/communities/:community/lockdowns", access.ActLockdown, a.startLockdown},
		{"POST", "/communities/:community/lockdowns/:lockdown/lift", access.ActLockdown, a.liftLockdown},
	}
}

func (a *API) getAccessSettings(c *fiber.Ctx, r *request) error {
	out, err := a.db.AccessSettings(c.UserContext(), r.community)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// putAccessSettings changes the fields given and keeps the others.
func (a *API) putAccessSettings(c *fiber.Ctx, r *request) error {
	var in struct {
		TimeZone            *string `json:"time_zone"`
		OfflineLimitSeconds *int    `json:"offline_limit_seconds"`
		OfflinePolicy       *string `json:"offline_policy"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	s, err := a.db.AccessSettings(c.UserContext(), r.community)
	if err != nil {
		return err
	}
	var k httpx.Checker
	if in.TimeZone != nil {
		s.TimeZone = k.Text("time_zone", in.TimeZone, 1, 64)
	}
	if in.OfflineLimitSeconds != nil {
		s.OfflineLimitSeconds = k.Int("offline_limit_seconds", in.OfflineLimitSeconds, access.MinOfflineLimitSeconds, access.MaxOfflineLimitSeconds)
	}
	if in.OfflinePolicy != nil {
		s.OfflinePolicy = k.OneOf("offline_policy", in.OfflinePolicy, access.OfflinePolicies)
	}
	if err := k.Err(); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (access.AccessSettings, error) {
		return s, tx.SetAccessSettings(c.UserContext(), s)
	})
}

// zonesField reads a list of zone numbers (each 0..63) into a mask.
func zonesField(field string, zones []int) (access.ZoneMask, error) {
	var m access.ZoneMask
	for i, z := range zones {
		if z < 0 || z >= access.MaxZones {
			return 0, access.Invalid(fmt.Sprintf("%s[%d]", field, i), "must be a zone number from 0 to %d", access.MaxZones-1)
		}
		m = m.With(z)
	}
	return m, nil
}

// putBuilding sets the zones a building's residents open by default, besides the
// perimeter.
func (a *API) putBuilding(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "building")
	if err != nil {
		return err
	}
	var in struct {
		Zones []int `json:"zones"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	if in.Zones == nil {
		return access.Invalid("zones", "is required (a list of zone numbers; [] for the perimeter only)")
	}
	zones, err := zonesField("zones", in.Zones)
	if err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (access.Building, error) {
		return tx.SetBuildingZones(c.UserContext(), r.community, id, zones)
	})
}

// groupView is an access group as the API shows it: zones as a list of zone numbers.
type groupView struct {
	ID        uuid.UUID              `json:"id"`
	Community uuid.UUID              `json:"community_id"`
	Name      string                 `json:"name"`
	Zones     []int                  `json:"zones"`
	Schedule  *access.WeeklySchedule `json:"schedule"`
	Holidays  []holidayView          `json:"holidays"`
	CreatedAt *time.Time             `json:"created_at,omitempty"`
	UpdatedAt *time.Time             `json:"updated_at,omitempty"`
	// Building: the group is a building's own (its residents' default), not one staff
	// made; its id is the building's.
	Building bool `json:"building_default,omitempty"`
}

type holidayView struct {
	Date    string          `json:"date"`
	Name    string          `json:"name,omitempty"`
	Windows []access.Window `json:"windows"`
}

func viewGroup(g access.AccessGroup) groupView {
	v := groupView{ID: g.ID, Community: g.Community, Name: g.Name, Zones: g.Zones.List(), Schedule: g.Schedule, Holidays: []holidayView{}}
	if !g.CreatedAt.IsZero() {
		v.CreatedAt, v.UpdatedAt = &g.CreatedAt, &g.UpdatedAt
	}
	for _, h := range g.Holidays {
		ws := h.Windows
		if ws == nil {
			ws = []access.Window{}
		}
		v.Holidays = append(v.Holidays, holidayView{Date: h.Date, Name: h.Name, Windows: ws})
	}
	return v
}

type windowIn struct {
	Start *string `json:"start"`
	End   *string `json:"end"`
}

type groupIn struct {
	Name     *string               `json:"name"`
	Zones    []int                 `json:"zones"`
	Schedule map[string][]windowIn `json:"schedule"`
	Holidays []struct {
		Date    *string    `json:"date"`
		Name    *string    `json:"name"`
		Windows []windowIn `json:"windows"`
	} `json:"holidays"`
}

// windows reads one day's windows, naming field[i] on a bad time.
func windows(field string, in []windowIn) ([]access.Window, error) {
	out := make([]access.Window, 0, len(in))
	for i, w := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		if w.Start == nil || w.End == nil {
			return nil, access.Invalid(f, "needs start and end (\"HH:MM\")")
		}
		win, err := access.ParseWindow(*w.Start, *w.End)
		if err != nil {
			return nil, access.Invalid(f, "%v", err)
		}
		out = append(out, win)
	}
	return out, nil
}

// group reads a group as staff send it; the domain's Validate checks the rest in the
// store (zones the community has, times that exist in its time zone).
func (in groupIn) group(community, id uuid.UUID) (access.AccessGroup, error) {
	g := access.AccessGroup{Community: community, ID: id, Holidays: []access.Holiday{}}
	var k httpx.Checker
	g.Name = k.Text("name", in.Name, 1, access.MaxGroupNameLen)
	if err := k.Err(); err != nil {
		return g, err
	}
	var err error
	if g.Zones, err = zonesField("zones", in.Zones); err != nil {
		return g, err
	}
	if in.Schedule != nil {
		g.Schedule = &access.WeeklySchedule{}
		for day, ws := range in.Schedule {
			d := access.DayIndex(day)
			if d < 0 {
				return g, access.Invalid("schedule."+day, "is not a day: use sun, mon, tue, wed, thu, fri, sat")
			}
			if g.Schedule[d], err = windows("schedule."+day, ws); err != nil {
				return g, err
			}
		}
	}
	for i, h := range in.Holidays {
		field := fmt.Sprintf("holidays[%d]", i)
		var k httpx.Checker
		hd := access.Holiday{Date: k.Text(field+".date", h.Date, 10, 10)}
		if h.Name != nil {
			hd.Name = k.Text(field+".name", h.Name, 0, access.MaxGroupNameLen)
		}
		if err := k.Err(); err != nil {
			return g, err
		}
		if hd.Windows, err = windows(field+".windows", h.Windows); err != nil {
			return g, err
		}
		g.Holidays = append(g.Holidays, hd)
	}
	return g, nil
}

func (a *API) listAccessGroups(c *fiber.Ctx, r *request) error {
	groups, err := a.db.AccessGroups(c.UserContext(), r.community)
	if err != nil {
		return err
	}
	out := make([]groupView, len(groups))
	for i, g := range groups {
		out[i] = viewGroup(g)
	}
	return c.JSON(fiber.Map{"access_groups": out})
}

func (a *API) createAccessGroup(c *fiber.Ctx, r *request) error {
	var in groupIn
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	g, err := in.group(r.community, uuid.Nil)
	if err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusCreated, func(tx *store.Tx) (groupView, error) {
		out, err := tx.CreateAccessGroup(c.UserContext(), g)
		return viewGroup(out), err
	})
}

func (a *API) getAccessGroup(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "group")
	if err != nil {
		return err
	}
	g, err := a.db.AccessGroup(c.UserContext(), r.community, id)
	if err != nil {
		return err
	}
	return c.JSON(viewGroup(g))
}

func (a *API) putAccessGroup(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "group")
	if err != nil {
		return err
	}
	var in groupIn
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	g, err := in.group(r.community, id)
	if err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (groupView, error) {
		out, err := tx.UpdateAccessGroup(c.UserContext(), g)
		return viewGroup(out), err
	})
}

func (a *API) deleteAccessGroup(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "group")
	if err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (fiber.Map, error) {
		return fiber.Map{"id": id, "deleted": true}, tx.DeleteAccessGroup(c.UserContext(), r.community, id)
	})
}

// policyPath reads the :level and :target of a policy path.
func policyPath(c *fiber.Ctx) (string, uuid.UUID, error) {
	level := c.Params("level")
	if !slices.Contains(access.PolicyLevels, level) {
		return "", uuid.Nil, access.Invalid("level", "must be building, unit or resident")
	}
	target, err := httpx.PathUUID(c, "target")
	return level, target, err
}

func (a *API) listAccessPolicies(c *fiber.Ctx, r *request) error {
	level := c.Query("level")
	if level != "" && !slices.Contains(access.PolicyLevels, level) {
		return access.Invalid("level", "must be building, unit or resident")
	}
	out, err := a.db.AccessPolicies(c.UserContext(), r.community, level)
	return listed(c, "access_policies", out, err)
}

func (a *API) putAccessPolicy(c *fiber.Ctx, r *request) error {
	level, target, err := policyPath(c)
	if err != nil {
		return err
	}
	var in struct {
		Groups  []string `json:"group_ids"`
		Inherit *bool    `json:"inherit"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	if in.Inherit == nil {
		return access.Invalid("inherit", "is required: true keeps what the level above gives (widen), false replaces it (narrow)")
	}
	p := access.AccessPolicy{Community: r.community, Level: level, Target: target, Inherit: *in.Inherit, Groups: []uuid.UUID{}}
	for i, s := range in.Groups {
		id, err := httpx.ParseUUID(s)
		if err != nil {
			return access.Invalid(fmt.Sprintf("group_ids[%d]", i), "must be a UUID")
		}
		p.Groups = append(p.Groups, id)
	}
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (access.AccessPolicy, error) {
		return tx.SetAccessPolicy(c.UserContext(), p)
	})
}

func (a *API) deleteAccessPolicy(c *fiber.Ctx, r *request) error {
	level, target, err := policyPath(c)
	if err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (fiber.Map, error) {
		return fiber.Map{"level": level, "target_id": target, "deleted": true}, tx.DeleteAccessPolicy(c.UserContext(), r.community, level, target)
	})
}

// residentAccess says what a resident opens now, and by which groups: what the admin API
// never said before issue 16.
func (a *API) residentAccess(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "resident")
	if err != nil {
		return err
	}
	ra, err := a.db.ResidentAccess(c.UserContext(), r.community, id)
	if err != nil {
		return err
	}
	groups := make([]groupView, len(ra.Groups))
	for i, g := range ra.Groups {
		groups[i] = viewGroup(g)
		groups[i].Building = ra.Building != nil && g.ID == *ra.Building
	}
	return c.JSON(fiber.Map{"resident_id": ra.Resident, "unit_id": ra.Unit, "building_id": ra.Building,
		"zones": ra.Zones.List(), "groups": groups})
}

type passholderIn struct {
	Name       *string    `json:"name"`
	Kind       *string    `json:"kind"`
	Company    *string    `json:"company"`
	Group      *string    `json:"group_id"`
	ValidUntil *time.Time `json:"valid_until"`
}

func (a *API) listPassholders(c *fiber.Ctx, r *request) error {
	out, err := a.db.Passholders(c.UserContext(), r.community)
	return listed(c, "passholders", out, err)
}

func (a *API) createPassholder(c *fiber.Ctx, r *request) error {
	var in passholderIn
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	p := store.NewPassholder{Community: r.community, Name: k.Text("name", in.Name, 1, 200),
		Kind: k.OneOf("kind", in.Kind, access.PassholderKinds), Group: k.UUID("group_id", in.Group), ValidUntil: in.ValidUntil}
	if in.Company != nil {
		p.Company = k.Text("company", in.Company, 0, 200)
	}
	if err := k.Err(); err != nil {
		return err
	}
	if p.ValidUntil != nil && !p.ValidUntil.After(time.Now()) {
		return access.Invalid("valid_until", "must be in the future")
	}
	return mutate(a, c, r, http.StatusCreated, func(tx *store.Tx) (access.Passholder, error) {
		return tx.CreatePassholder(c.UserContext(), p)
	})
}

func (a *API) putPassholder(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "passholder")
	if err != nil {
		return err
	}
	var in passholderIn
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	cur, err := a.db.Passholder(c.UserContext(), r.community, id)
	if err != nil {
		return err
	}
	var k httpx.Checker
	if in.Name != nil {
		cur.Name = k.Text("name", in.Name, 1, 200)
	}
	if in.Company != nil {
		cur.Company = k.Text("company", in.Company, 0, 200)
	}
	if in.Group != nil {
		cur.Group = k.UUID("group_id", in.Group)
	}
	if err := k.Err(); err != nil {
		return err
	}
	if in.Kind != nil && *in.Kind != cur.Kind {
		return access.Invalid("kind", "a passholder's kind does not change: add a new passholder")
	}
	if in.ValidUntil != nil {
		if !in.ValidUntil.After(time.Now()) {
			return access.Invalid("valid_until", "must be in the future (end the passholder instead)")
		}
		cur.ValidUntil = in.ValidUntil
	}
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (access.Passholder, error) {
		return tx.UpdatePassholder(c.UserContext(), cur)
	})
}

func (a *API) endPassholder(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "passholder")
	if err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (fiber.Map, error) {
		n, err := tx.EndPassholder(c.UserContext(), r.community, id)
		return fiber.Map{"passholder_id": id, "ended": true, "credentials_revoked": n}, err
	})
}

// issuePassholderCard prints a passholder's card: the PNG, its credential id in a header
// (the text is not kept), as a resident's card.
func (a *API) issuePassholderCard(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "passholder")
	if err != nil {
		return err
	}
	return printCard(c, func(valid time.Duration) (uuid.UUID, time.Time, string, error) {
		card, text, err := a.db.IssuePassholderCard(c.UserContext(), actor(r), r.community, id, valid, a.sealer)
		return card.ID, card.ExpiresAt, text, err
	})
}

func (a *API) listPassholderCards(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "passholder")
	if err != nil {
		return err
	}
	out, err := a.db.PassholderCards(c.UserContext(), r.community, id)
	return listed(c, "cards", out, err)
}

func (a *API) revokePassholderCard(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "passholder")
	if err != nil {
		return err
	}
	card, err := httpx.PathUUID(c, "card")
	if err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (fiber.Map, error) {
		return fiber.Map{"credential_id": card, "revoked": true}, tx.RevokePassholderCard(c.UserContext(), r.community, id, card)
	})
}

// listLockdowns lists the lockdowns in force, or with ?all=true the latest ones ended too.
func (a *API) listLockdowns(c *fiber.Ctx, r *request) error {
	all := false
	if q := c.Query("all"); q != "" {
		var err error
		if all, err = strconv.ParseBool(q); err != nil {
			return access.Invalid("all", "must be true or false")
		}
	}
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	out, err := a.db.Lockdowns(c.UserContext(), r.community, !all, limit)
	return listed(c, "lockdowns", out, err)
}

// startLockdown locks a gate, a zone or the community now, with a reason and an optional
// automatic end. Gates online learn it within about a second; an offline gate as soon as
// it syncs again.
func (a *API) startLockdown(c *fiber.Ctx, r *request) error {
	var in struct {
		Scope    *string `json:"scope"`
		Zone     *int    `json:"zone"`
		Gate     *string `json:"gate_id"`
		Reason   *string `json:"reason"`
		Duration *int    `json:"duration_minutes"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	l := access.Lockdown{Community: r.community, Scope: k.OneOf("scope", in.Scope, access.LockdownScopes), Zone: in.Zone,
		Reason: k.Text("reason", in.Reason, 1, 200)}
	if in.Gate != nil {
		g := k.UUID("gate_id", in.Gate)
		l.Gate = &g
	}
	var duration *time.Duration
	if in.Duration != nil {
		d := time.Duration(k.Int("duration_minutes", in.Duration, int(access.MinLockdownDuration/time.Minute),
			int(access.MaxLockdownDuration/time.Minute))) * time.Minute
		duration = &d
	}
	if err := k.Err(); err != nil {
		return err
	}
	if err := access.CheckLockdown(l, duration); err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusCreated, func(tx *store.Tx) (access.Lockdown, error) {
		return tx.StartLockdown(c.UserContext(), l, r.staff.ID, duration)
	})
}

// liftLockdown ends a lockdown: one action, whatever its scope.
func (a *API) liftLockdown(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "lockdown")
	if err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (access.Lockdown, error) {
		return tx.LiftLockdown(c.UserContext(), r.community, id, r.staff.ID)
	})
}
