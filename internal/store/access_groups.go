package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"gatepass/internal/access"
)

// Who may enter where and when (issue 16): the community's access settings, buildings'
// zones, access groups and the policies that give residents their groups, and what gates
// learn of them (gateAccess, memberships). Every change tells the gates through the
// change log: kind "access" for what GateSync.Access carries (sent whole), kind
// "membership" for holders whose groups changed (membershipChange names which).

// Change-log kinds of this file.
const (
	changeAccess     = "access"
	changeMembership = "membership"
)

// levelPassholder is a membershipChange's level for one passholder.
const levelPassholder = "passholder"

// membershipChange says whose groups a change touched: every resident of a building or
// unit, one resident, one passholder, or everyone (All).
type membershipChange struct {
	Level string    `json:"level,omitempty"` // building | unit | resident | passholder
	ID    uuid.UUID `json:"id,omitempty"`
	All   bool      `json:"all,omitempty"`
}

// accessChanged tells the gates that GateSync.Access changed.
func (tx *Tx) accessChanged(ctx context.Context, c uuid.UUID) error {
	return tx.Change(ctx, c, changeAccess, uuid.Nil, c, map[string]any{})
}

// membershipChanged tells the gates that the groups of m's holders changed.
func (tx *Tx) membershipChanged(ctx context.Context, c uuid.UUID, m membershipChange) error {
	entity := m.ID
	if entity == uuid.Nil {
		entity = c
	}
	return tx.Change(ctx, c, changeMembership, uuid.Nil, entity, m)
}

// AccessSettings are community c's time zone and offline rule.
func (db *DB) AccessSettings(ctx context.Context, c uuid.UUID) (access.AccessSettings, error) {
	return accessSettings(ctx, db.x, c)
}

func accessSettings(ctx context.Context, q getter, c uuid.UUID) (access.AccessSettings, error) {
	var row struct {
		TimeZone string `db:"time_zone"`
		Limit    int    `db:"offline_limit_seconds"`
		Policy   string `db:"offline_policy"`
	}
	err := q.GetContext(ctx, &row, `SELECT time_zone, offline_limit_seconds, offline_policy FROM communities WHERE id = $1`, c)
	if errors.Is(err, sql.ErrNoRows) {
		return access.AccessSettings{}, fmt.Errorf("community %s: %w", c, access.ErrNotFound)
	}
	if err != nil {
		return access.AccessSettings{}, fmt.Errorf("access settings: %w", err)
	}
	return access.AccessSettings{Community: c, TimeZone: row.TimeZone, OfflineLimitSeconds: row.Limit, OfflinePolicy: row.Policy}, nil
}

// SetAccessSettings replaces community c's access settings (validated by the caller).
// Every group must still be valid in the new time zone (its times must exist there).
func (tx *Tx) SetAccessSettings(ctx context.Context, s access.AccessSettings) error {
	loc, err := access.LoadTimeZone(s.TimeZone)
	if err != nil {
		return err
	}
	groups, err := accessGroups(ctx, tx.x, s.Community)
	if err != nil {
		return err
	}
	known, err := communityZones(ctx, tx.x, s.Community)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if err := g.Validate(known, loc, time.Now()); err != nil {
			return access.Invalid("time_zone", "group %q would not be valid in %s: %v", g.Name, s.TimeZone, err)
		}
	}
	if _, err := tx.x.ExecContext(ctx, `UPDATE communities SET time_zone = $2, offline_limit_seconds = $3, offline_policy = $4 WHERE id = $1`,
		s.Community, s.TimeZone, s.OfflineLimitSeconds, s.OfflinePolicy); err != nil {
		return fmt.Errorf("access settings: %w", err)
	}
	if err := tx.accessChanged(ctx, s.Community); err != nil {
		return err
	}
	return tx.Audit(ctx, s.Community, "community.access_settings", "community:"+s.Community.String(), s)
}

// communityZones is the mask of the zones community c has.
func communityZones(ctx context.Context, q selecter, c uuid.UUID) (access.ZoneMask, error) {
	var zones []int
	if err := q.SelectContext(ctx, &zones, `SELECT zone FROM zones WHERE community_id = $1`, c); err != nil {
		return 0, fmt.Errorf("zones: %w", err)
	}
	return access.MaskOf(zones...)
}

// checkZones refuses zones the community does not have, naming field.
func checkZones(ctx context.Context, q selecter, c uuid.UUID, zones access.ZoneMask, field string) error {
	known, err := communityZones(ctx, q, c)
	if err != nil {
		return err
	}
	if unknown := zones &^ known; unknown != 0 {
		return access.Invalid(field, "zone %d does not exist in this community", unknown.Zones()[0])
	}
	return nil
}

// SetBuildingZones sets the zones a building's residents open by default (besides the
// perimeter); an unknown zone is refused.
func (tx *Tx) SetBuildingZones(ctx context.Context, c, building uuid.UUID, zones access.ZoneMask) (access.Building, error) {
	if err := checkZones(ctx, tx.x, c, zones, "zones"); err != nil {
		return access.Building{}, err
	}
	var b access.Building
	err := tx.x.GetContext(ctx, &b, `UPDATE buildings SET zones = $3 WHERE community_id = $1 AND id = $2
		RETURNING community_id, id, name, zones, created_at`, c, building, int64(zones))
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("building %s: %w", building, access.ErrNotFound)
	}
	if err != nil {
		return b, fmt.Errorf("building zones: %w", err)
	}
	if err := tx.accessChanged(ctx, c); err != nil {
		return b, err
	}
	return b, tx.Audit(ctx, c, "building.zones", "building:"+building.String(), map[string]any{"zones": zones.List()})
}

// groupRow is an access group as stored: schedule and holidays as JSON.
type groupRow struct {
	Community uuid.UUID       `db:"community_id"`
	ID        uuid.UUID       `db:"id"`
	Name      string          `db:"name"`
	Zones     access.ZoneMask `db:"zones"`
	Schedule  []byte          `db:"schedule"`
	Holidays  []byte          `db:"holidays"`
	CreatedAt time.Time       `db:"created_at"`
	UpdatedAt time.Time       `db:"updated_at"`
}

const groupColumns = `community_id, id, name, zones, schedule, holidays, created_at, updated_at`

func (r groupRow) group() (access.AccessGroup, error) {
	g := access.AccessGroup{Community: r.Community, ID: r.ID, Name: r.Name, Zones: r.Zones, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.Schedule != nil {
		g.Schedule = &access.WeeklySchedule{}
		if err := json.Unmarshal(r.Schedule, g.Schedule); err != nil {
			return g, fmt.Errorf("group %s schedule: %w", r.ID, err)
		}
	}
	if err := json.Unmarshal(r.Holidays, &g.Holidays); err != nil {
		return g, fmt.Errorf("group %s holidays: %w", r.ID, err)
	}
	if g.Holidays == nil {
		g.Holidays = []access.Holiday{}
	}
	return g, nil
}

// groupJSON is a group's schedule and holidays as their columns hold them.
func groupJSON(g access.AccessGroup) (schedule, holidays any, err error) {
	if g.Schedule != nil {
		raw, err := json.Marshal(g.Schedule)
		if err != nil {
			return nil, nil, err
		}
		schedule = string(raw)
	}
	hs := g.Holidays
	if hs == nil {
		hs = []access.Holiday{}
	}
	raw, err := json.Marshal(hs)
	return schedule, string(raw), err
}

// validateGroup checks g against its community: its zones exist and its times exist in
// the community's time zone.
func validateGroup(ctx context.Context, q getSelecter, g *access.AccessGroup) error {
	s, err := accessSettings(ctx, q, g.Community)
	if err != nil {
		return err
	}
	loc, err := access.LoadTimeZone(s.TimeZone)
	if err != nil {
		return err
	}
	known, err := communityZones(ctx, q, g.Community)
	if err != nil {
		return err
	}
	return g.Validate(known, loc, time.Now())
}

// CreateAccessGroup adds a group to its community.
func (tx *Tx) CreateAccessGroup(ctx context.Context, g access.AccessGroup) (access.AccessGroup, error) {
	if err := validateGroup(ctx, tx.x, &g); err != nil {
		return g, err
	}
	schedule, holidays, err := groupJSON(g)
	if err != nil {
		return g, fmt.Errorf("create group: %w", err)
	}
	var row groupRow
	err = tx.x.GetContext(ctx, &row, `INSERT INTO access_groups (community_id, id, name, zones, schedule, holidays)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+groupColumns, g.Community, newID(), g.Name, int64(g.Zones), schedule, holidays)
	if isUnique(err) {
		return g, access.Invalid("name", "a group named %q exists already", g.Name)
	}
	if err != nil {
		return g, fmt.Errorf("create group: %w", err)
	}
	out, err := row.group()
	if err != nil {
		return out, err
	}
	if err := tx.accessChanged(ctx, g.Community); err != nil {
		return out, err
	}
	return out, tx.Audit(ctx, g.Community, "access_group.create", "access_group:"+out.ID.String(), groupSummary(out))
}

// UpdateAccessGroup replaces a group's name, zones, schedule and holidays.
func (tx *Tx) UpdateAccessGroup(ctx context.Context, g access.AccessGroup) (access.AccessGroup, error) {
	if err := validateGroup(ctx, tx.x, &g); err != nil {
		return g, err
	}
	schedule, holidays, err := groupJSON(g)
	if err != nil {
		return g, fmt.Errorf("update group: %w", err)
	}
	var row groupRow
	err = tx.x.GetContext(ctx, &row, `UPDATE access_groups SET name = $3, zones = $4, schedule = $5, holidays = $6, updated_at = now()
		WHERE community_id = $1 AND id = $2 RETURNING `+groupColumns, g.Community, g.ID, g.Name, int64(g.Zones), schedule, holidays)
	if isUnique(err) {
		return g, access.Invalid("name", "a group named %q exists already", g.Name)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return g, fmt.Errorf("group %s: %w", g.ID, access.ErrNotFound)
	}
	if err != nil {
		return g, fmt.Errorf("update group: %w", err)
	}
	out, err := row.group()
	if err != nil {
		return out, err
	}
	if err := tx.accessChanged(ctx, g.Community); err != nil {
		return out, err
	}
	return out, tx.Audit(ctx, g.Community, "access_group.update", "access_group:"+out.ID.String(), groupSummary(out))
}

// DeleteAccessGroup deletes a group no passholder is bound to, and takes it out of every
// policy that names it.
func (tx *Tx) DeleteAccessGroup(ctx context.Context, c, id uuid.UUID) error {
	var holders int
	if err := tx.x.GetContext(ctx, &holders, `SELECT count(*) FROM passholders WHERE community_id = $1 AND group_id = $2`, c, id); err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	if holders > 0 {
		return fmt.Errorf("%d passholders are bound to the group: move them to another first: %w", holders, access.ErrConflict)
	}
	r, err := tx.x.ExecContext(ctx, `DELETE FROM access_groups WHERE community_id = $1 AND id = $2`, c, id)
	if err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("group %s: %w", id, access.ErrNotFound)
	}
	r, err = tx.x.ExecContext(ctx, `UPDATE access_policies SET group_ids = array_remove(group_ids, $2), updated_at = now()
		WHERE community_id = $1 AND $2 = ANY(group_ids)`, c, id)
	if err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	changed, _ := r.RowsAffected()
	if changed > 0 {
		if err := tx.membershipChanged(ctx, c, membershipChange{All: true}); err != nil {
			return err
		}
	}
	if err := tx.accessChanged(ctx, c); err != nil {
		return err
	}
	return tx.Audit(ctx, c, "access_group.delete", "access_group:"+id.String(), map[string]any{"policies_changed": changed})
}

// groupSummary is what the audit row keeps of a group.
func groupSummary(g access.AccessGroup) map[string]any {
	return map[string]any{"name": g.Name, "zones": g.Zones.List(), "schedule": g.Schedule, "holidays": g.Holidays}
}

// AccessGroups lists community c's groups by name.
func (db *DB) AccessGroups(ctx context.Context, c uuid.UUID) ([]access.AccessGroup, error) {
	return accessGroups(ctx, db.x, c)
}

func accessGroups(ctx context.Context, q selecter, c uuid.UUID) ([]access.AccessGroup, error) {
	var rows []groupRow
	if err := q.SelectContext(ctx, &rows, `SELECT `+groupColumns+` FROM access_groups WHERE community_id = $1 ORDER BY name, id`, c); err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	out := make([]access.AccessGroup, 0, len(rows))
	for _, r := range rows {
		g, err := r.group()
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// AccessGroup is one group of community c.
func (db *DB) AccessGroup(ctx context.Context, c, id uuid.UUID) (access.AccessGroup, error) {
	var row groupRow
	err := db.x.GetContext(ctx, &row, `SELECT `+groupColumns+` FROM access_groups WHERE community_id = $1 AND id = $2`, c, id)
	if errors.Is(err, sql.ErrNoRows) {
		return access.AccessGroup{}, fmt.Errorf("group %s: %w", id, access.ErrNotFound)
	}
	if err != nil {
		return access.AccessGroup{}, fmt.Errorf("group: %w", err)
	}
	return row.group()
}

// policyTargets are the tables of the levels' targets.
var policyTargets = map[string]string{
	access.LevelBuilding: `SELECT 1 FROM buildings WHERE community_id = $1 AND id = $2`,
	access.LevelUnit:     `SELECT 1 FROM units WHERE community_id = $1 AND id = $2`,
	access.LevelResident: `SELECT 1 FROM residents WHERE community_id = $1 AND id = $2`,
}

// SetAccessPolicy sets what one building, unit or resident's level says (the level and
// target are the caller's checked path; the groups must be the community's).
func (tx *Tx) SetAccessPolicy(ctx context.Context, p access.AccessPolicy) (access.AccessPolicy, error) {
	query, ok := policyTargets[p.Level]
	if !ok {
		return p, access.Invalid("level", "must be building, unit or resident")
	}
	if err := tx.exists(ctx, query, p.Community, p.Target); err != nil {
		return p, fmt.Errorf("%s %s: %w", p.Level, p.Target, access.ErrNotFound)
	}
	if len(p.Groups) > access.MaxGroupsPerLevel {
		return p, access.Invalid("group_ids", "at most %d groups", access.MaxGroupsPerLevel)
	}
	if p.Groups == nil {
		p.Groups = []uuid.UUID{}
	}
	var found int
	err := tx.x.GetContext(ctx, &found, `SELECT count(*) FROM access_groups WHERE community_id = $1 AND id = ANY($2::uuid[])`,
		p.Community, pq.Array(uuidStrings(p.Groups)))
	if err != nil {
		return p, fmt.Errorf("access policy: %w", err)
	}
	if found != len(uniqueIDs(p.Groups)) {
		return p, access.Invalid("group_ids", "names a group this community does not have")
	}
	p.Groups = uniqueIDs(p.Groups)
	// EXCLUDED's time, not now(): Citus takes no function in DO UPDATE SET.
	err = tx.x.GetContext(ctx, &p.UpdatedAt, `INSERT INTO access_policies (community_id, level, target_id, group_ids, inherit, updated_at)
		VALUES ($1, $2, $3, $4, $5, now())
		ON CONFLICT (community_id, level, target_id) DO UPDATE SET group_ids = EXCLUDED.group_ids, inherit = EXCLUDED.inherit, updated_at = EXCLUDED.updated_at
		RETURNING updated_at`, p.Community, p.Level, p.Target, pq.Array(uuidStrings(p.Groups)), p.Inherit)
	if err != nil {
		return p, fmt.Errorf("access policy: %w", err)
	}
	if err := tx.membershipChanged(ctx, p.Community, membershipChange{Level: p.Level, ID: p.Target}); err != nil {
		return p, err
	}
	return p, tx.Audit(ctx, p.Community, "access_policy.set", p.Level+":"+p.Target.String(),
		map[string]any{"group_ids": p.Groups, "inherit": p.Inherit})
}

// DeleteAccessPolicy removes what a level says: its residents get what the level above
// gives again.
func (tx *Tx) DeleteAccessPolicy(ctx context.Context, c uuid.UUID, level string, target uuid.UUID) error {
	r, err := tx.x.ExecContext(ctx, `DELETE FROM access_policies WHERE community_id = $1 AND level = $2 AND target_id = $3`, c, level, target)
	if err != nil {
		return fmt.Errorf("delete access policy: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("no access policy for %s %s: %w", level, target, access.ErrNotFound)
	}
	if err := tx.membershipChanged(ctx, c, membershipChange{Level: level, ID: target}); err != nil {
		return err
	}
	return tx.Audit(ctx, c, "access_policy.delete", level+":"+target.String(), map[string]any{})
}

func uniqueIDs(ids []uuid.UUID) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(ids))
	seen := map[uuid.UUID]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

type policyRow struct {
	Level     string         `db:"level"`
	Target    uuid.UUID      `db:"target_id"`
	Groups    pq.StringArray `db:"group_ids"`
	Inherit   bool           `db:"inherit"`
	UpdatedAt time.Time      `db:"updated_at"`
}

func (r policyRow) policy(c uuid.UUID) access.AccessPolicy {
	p := access.AccessPolicy{Community: c, Level: r.Level, Target: r.Target, Inherit: r.Inherit, UpdatedAt: r.UpdatedAt, Groups: []uuid.UUID{}}
	for _, s := range r.Groups {
		if id, err := uuid.Parse(s); err == nil {
			p.Groups = append(p.Groups, id)
		}
	}
	return p
}

// AccessPolicies lists community c's policies, of one level when level is not "".
func (db *DB) AccessPolicies(ctx context.Context, c uuid.UUID, level string) ([]access.AccessPolicy, error) {
	var rows []policyRow
	var lv any
	if level != "" {
		lv = level
	}
	err := db.x.SelectContext(ctx, &rows, `SELECT level, target_id, group_ids, inherit, updated_at FROM access_policies
		WHERE community_id = $1 AND ($2::text IS NULL OR level = $2) ORDER BY level, target_id`, c, lv)
	if err != nil {
		return nil, fmt.Errorf("list access policies: %w", err)
	}
	out := make([]access.AccessPolicy, len(rows))
	for i, r := range rows {
		out[i] = r.policy(c)
	}
	return out, nil
}

// policies are a community's policies by level and target.
type policies map[string]map[uuid.UUID]*access.AccessPolicy

func loadPolicies(ctx context.Context, q selecter, c uuid.UUID) (policies, error) {
	var rows []policyRow
	if err := q.SelectContext(ctx, &rows, `SELECT level, target_id, group_ids, inherit, updated_at FROM access_policies WHERE community_id = $1`, c); err != nil {
		return nil, fmt.Errorf("access policies: %w", err)
	}
	out := policies{access.LevelBuilding: {}, access.LevelUnit: {}, access.LevelResident: {}}
	for _, r := range rows {
		p := r.policy(c)
		if out[p.Level] != nil {
			out[p.Level][p.Target] = &p
		}
	}
	return out, nil
}

// residentPlace is where an active resident lives now.
type residentPlace struct {
	Resident uuid.UUID `db:"resident_id"`
	Unit     uuid.UUID `db:"unit_id"`
	Building uuid.UUID `db:"building_id"`
}

// groups is the resident's groups under ps.
func (r residentPlace) groups(ps policies) []uuid.UUID {
	return access.EffectiveGroups(r.Building, ps[access.LevelResident][r.Resident], ps[access.LevelUnit][r.Unit], ps[access.LevelBuilding][r.Building])
}

// residentPlaces lists community c's active residents with their unit and building: all
// of them when m is nil, else those m names (by building, unit or resident).
func residentPlaces(ctx context.Context, q selecter, c uuid.UUID, buildings, units, residents []uuid.UUID, all bool) ([]residentPlace, error) {
	var out []residentPlace
	// Every distributed table is filtered by the community ($1), so Citus routes the
	// statement to the community's shard.
	err := q.SelectContext(ctx, &out, `SELECT DISTINCT ON (r.id) r.id AS resident_id, rs.unit_id, u.building_id
		FROM residents r
		JOIN residencies rs ON rs.community_id = $1 AND rs.resident_id = r.id AND rs.valid_to IS NULL
		JOIN units u ON u.community_id = $1 AND u.id = rs.unit_id
		WHERE r.community_id = $1 AND r.status = 'active'
		  AND ($2 OR r.id = ANY($3::uuid[]) OR rs.unit_id = ANY($4::uuid[]) OR u.building_id = ANY($5::uuid[]))
		ORDER BY r.id, rs.valid_from DESC`, c, all, pq.Array(uuidStrings(residents)), pq.Array(uuidStrings(units)), pq.Array(uuidStrings(buildings)))
	if err != nil {
		return nil, fmt.Errorf("resident places: %w", err)
	}
	return out, nil
}

// memberships are the groups of community c's holders: every active resident and
// passholder when all, else those the changes and the holders name. A named holder
// that no longer has groups (moved out, ended) gets an empty list, so that the gate
// stops using what it had.
func memberships(ctx context.Context, q selecter, c uuid.UUID, all bool, changes []membershipChange, holders []uuid.UUID) ([]access.HolderGroups, error) {
	out := []access.HolderGroups{}
	var buildings, units, residents, passholders []uuid.UUID
	residents = append(residents, holders...)
	passholders = append(passholders, holders...)
	for _, ch := range changes {
		switch {
		case ch.All:
			all = true
		case ch.Level == access.LevelBuilding:
			buildings = append(buildings, ch.ID)
		case ch.Level == access.LevelUnit:
			units = append(units, ch.ID)
		case ch.Level == access.LevelResident:
			residents = append(residents, ch.ID)
		case ch.Level == levelPassholder:
			passholders = append(passholders, ch.ID)
		}
	}
	if !all && len(buildings)+len(units)+len(residents)+len(passholders) == 0 {
		return out, nil
	}
	ps, err := loadPolicies(ctx, q, c)
	if err != nil {
		return nil, err
	}
	places, err := residentPlaces(ctx, q, c, buildings, units, residents, all)
	if err != nil {
		return nil, err
	}
	seen := map[uuid.UUID]bool{}
	for _, p := range places {
		seen[p.Resident] = true
		out = append(out, access.HolderGroups{Holder: p.Resident, Groups: p.groups(ps)})
	}
	var phs []struct {
		ID    uuid.UUID `db:"id"`
		Group uuid.UUID `db:"group_id"`
	}
	err = q.SelectContext(ctx, &phs, `SELECT id, group_id FROM passholders WHERE community_id = $1
		AND ended_at IS NULL AND (valid_until IS NULL OR valid_until > now()) AND ($2 OR id = ANY($3::uuid[])) ORDER BY id`,
		c, all, pq.Array(uuidStrings(passholders)))
	if err != nil {
		return nil, fmt.Errorf("passholder memberships: %w", err)
	}
	for _, p := range phs {
		seen[p.ID] = true
		out = append(out, access.HolderGroups{Holder: p.ID, Groups: []uuid.UUID{p.Group}})
	}
	// Named residents and passholders without groups now; not the holders of new
	// credentials, which may be visitor passes (they keep their own zones).
	var named []uuid.UUID
	for _, ch := range changes {
		if ch.Level == access.LevelResident || ch.Level == levelPassholder {
			named = append(named, ch.ID)
		}
	}
	for _, id := range named {
		if !seen[id] {
			seen[id] = true
			out = append(out, access.HolderGroups{Holder: id, Groups: []uuid.UUID{}})
		}
	}
	return out, nil
}

// gateAccess is what GateSync.Access carries for community c.
func gateAccess(ctx context.Context, q getSelecter, c uuid.UUID) (*access.GateAccess, error) {
	s, err := accessSettings(ctx, q, c)
	if err != nil {
		return nil, err
	}
	out := &access.GateAccess{TimeZone: s.TimeZone, OfflineLimitSeconds: s.OfflineLimitSeconds, OfflinePolicy: s.OfflinePolicy,
		Groups: []access.GateGroup{}, Lockdowns: []access.GateLockdown{}}
	groups, err := accessGroups(ctx, q, c)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		out.Groups = append(out.Groups, access.GateGroup{ID: g.ID, Zones: g.Zones, Schedule: g.Schedule, Holidays: g.Holidays})
	}
	var buildings []access.Building
	if err := q.SelectContext(ctx, &buildings, `SELECT community_id, id, name, zones, created_at FROM buildings WHERE community_id = $1 ORDER BY id`, c); err != nil {
		return nil, fmt.Errorf("sync buildings: %w", err)
	}
	for _, b := range buildings {
		g := access.BuildingGroup(b)
		out.Groups = append(out.Groups, access.GateGroup{ID: g.ID, Zones: g.Zones})
	}
	locks, err := lockdownsInForce(ctx, q, c)
	if err != nil {
		return nil, err
	}
	for _, l := range locks {
		out.Lockdowns = append(out.Lockdowns, access.GateLockdown{ID: l.ID, Scope: l.Scope, Zone: l.Zone, Gate: l.Gate, Reason: l.Reason, EndsAt: l.EndsAt})
	}
	return out, nil
}

// ResidentAccess is what a resident opens: their groups (the building's own first when
// they have it) and the zones those open.
type ResidentAccess struct {
	Resident uuid.UUID            `json:"resident_id"`
	Unit     *uuid.UUID           `json:"unit_id,omitempty"`
	Building *uuid.UUID           `json:"building_id,omitempty"`
	Groups   []access.AccessGroup `json:"-"`
	Zones    access.ZoneMask      `json:"-"`
}

// ResidentAccess says what resident opens now (nothing once they have moved out).
func (db *DB) ResidentAccess(ctx context.Context, c, resident uuid.UUID) (ResidentAccess, error) {
	out := ResidentAccess{Resident: resident, Groups: []access.AccessGroup{}}
	if _, err := residentQ(ctx, db.x, c, resident); err != nil {
		return out, err
	}
	places, err := residentPlaces(ctx, db.x, c, nil, nil, []uuid.UUID{resident}, false)
	if err != nil || len(places) == 0 {
		return out, err
	}
	p := places[0]
	out.Unit, out.Building = &p.Unit, &p.Building
	ps, err := loadPolicies(ctx, db.x, c)
	if err != nil {
		return out, err
	}
	groups, err := accessGroups(ctx, db.x, c)
	if err != nil {
		return out, err
	}
	byID := map[uuid.UUID]access.AccessGroup{}
	for _, g := range groups {
		byID[g.ID] = g
	}
	var b access.Building
	if err := db.x.GetContext(ctx, &b, `SELECT community_id, id, name, zones, created_at FROM buildings WHERE community_id = $1 AND id = $2`, c, p.Building); err != nil {
		return out, fmt.Errorf("resident access: %w", err)
	}
	byID[b.ID] = access.BuildingGroup(b)
	for _, id := range p.groups(ps) {
		if g, ok := byID[id]; ok {
			if g.Holidays == nil {
				g.Holidays = []access.Holiday{}
			}
			out.Groups = append(out.Groups, g)
			out.Zones |= g.Zones
		}
	}
	return out, nil
}

// residentGroupZones is what resident's groups open, whatever their schedules (the
// perimeter alone when they live nowhere now): a visitor pass of theirs may open no more.
func residentGroupZones(ctx context.Context, q getSelecter, c, resident uuid.UUID) (access.ZoneMask, error) {
	perimeter := access.ZoneMask(0).With(access.PerimeterZone)
	places, err := residentPlaces(ctx, q, c, nil, nil, []uuid.UUID{resident}, false)
	if err != nil || len(places) == 0 {
		return perimeter, err
	}
	ps, err := loadPolicies(ctx, q, c)
	if err != nil {
		return 0, err
	}
	ids := places[0].groups(ps)
	var masks []access.ZoneMask
	err = q.SelectContext(ctx, &masks, `SELECT zones FROM access_groups WHERE community_id = $1 AND id = ANY($2::uuid[])
		UNION ALL SELECT zones | 1 FROM buildings WHERE community_id = $1 AND id = ANY($2::uuid[])`, c, pq.Array(uuidStrings(ids)))
	if err != nil {
		return 0, fmt.Errorf("resident zones: %w", err)
	}
	var out access.ZoneMask
	for _, m := range masks {
		out |= m
	}
	return out, nil
}
