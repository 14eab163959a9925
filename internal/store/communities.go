package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/secret"
)

// CreateCommunity makes a community with its perimeter zone and its first signing key,
// sealed under the master key.
func (tx *Tx) CreateCommunity(ctx context.Context, name string, sealer *secret.Sealer) (access.CommunityInfo, error) {
	var c access.CommunityInfo
	err := tx.x.GetContext(ctx, &c, `INSERT INTO communities (id, name) VALUES ($1, $2) RETURNING id, name, created_at`, newID(), name)
	if err != nil {
		return c, fmt.Errorf("create community: %w", err)
	}
	if _, err := tx.x.ExecContext(ctx, `INSERT INTO zones (community_id, zone, name) VALUES ($1, $2, 'Perimeter')`, c.ID, access.PerimeterZone); err != nil {
		return c, fmt.Errorf("create community: %w", err)
	}
	if _, err := tx.createSigningKey(ctx, c.ID, sealer); err != nil {
		return c, err
	}
	return c, tx.Audit(ctx, c.ID, "community.create", "community:"+c.ID.String(), map[string]any{"name": name})
}

// Communities lists the communities staff s sees.
func (db *DB) Communities(ctx context.Context, s access.Staff) ([]access.CommunityInfo, error) {
	out := []access.CommunityInfo{}
	err := db.x.SelectContext(ctx, &out, `SELECT id, name, created_at FROM communities
		WHERE $1::uuid IS NULL OR id = $1 ORDER BY name, id`, nullUUID(s.Community))
	if err != nil {
		return nil, fmt.Errorf("list communities: %w", err)
	}
	return out, nil
}

// Community returns one community.
func (db *DB) Community(ctx context.Context, id uuid.UUID) (access.CommunityInfo, error) {
	var c access.CommunityInfo
	// Prepared: every admin request about a community runs it (authorize).
	err := db.staff.get(ctx, &c, `SELECT id, name, created_at FROM communities WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("community %s: %w", id, access.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("get community: %w", err)
	}
	return c, nil
}

// CreateBuilding adds a building whose residents open the perimeter only, until staff
// give it zones (CreateBuildingZones, SetBuildingZones).
func (tx *Tx) CreateBuilding(ctx context.Context, c uuid.UUID, name string) (access.Building, error) {
	return tx.CreateBuildingZones(ctx, c, name, 0)
}

// CreateBuildingZones adds a building whose residents open the perimeter and zones by
// default (access.BuildingGroup); an unknown zone is refused.
func (tx *Tx) CreateBuildingZones(ctx context.Context, c uuid.UUID, name string, zones access.ZoneMask) (access.Building, error) {
	if err := checkZones(ctx, tx.x, c, zones, "zones"); err != nil {
		return access.Building{}, err
	}
	var b access.Building
	err := tx.x.GetContext(ctx, &b, `INSERT INTO buildings (community_id, id, name, zones) VALUES ($1, $2, $3, $4)
		RETURNING community_id, id, name, zones, created_at`, c, newID(), name, int64(zones))
	if isUnique(err) {
		return b, access.Invalid("name", "a building named %q exists already", name)
	}
	if err != nil {
		return b, fmt.Errorf("create building: %w", err)
	}
	// Gates learn the building's own group (its residents' default).
	if err := tx.accessChanged(ctx, c); err != nil {
		return b, err
	}
	return b, tx.Audit(ctx, c, "building.create", "building:"+b.ID.String(), map[string]any{"name": name, "zones": zones.List()})
}

// Buildings lists a community's buildings.
func (db *DB) Buildings(ctx context.Context, c uuid.UUID) ([]access.Building, error) {
	out := []access.Building{}
	err := db.x.SelectContext(ctx, &out, `SELECT community_id, id, name, zones, created_at FROM buildings WHERE community_id = $1 ORDER BY name`, c)
	if err != nil {
		return nil, fmt.Errorf("list buildings: %w", err)
	}
	return out, nil
}

// CreateUnit adds a unit to a building of the community. Whether the building exists is
// checked here because only the database knows; the check names the field, which the
// foreign key's error would not.
func (tx *Tx) CreateUnit(ctx context.Context, c, building uuid.UUID, label string) (access.Unit, error) {
	if err := tx.exists(ctx, `SELECT 1 FROM buildings WHERE community_id = $1 AND id = $2`, c, building); err != nil {
		return access.Unit{}, access.Invalid("building_id", "no such building in this community")
	}
	var u access.Unit
	err := tx.x.GetContext(ctx, &u, `INSERT INTO units (community_id, id, building_id, label) VALUES ($1, $2, $3, $4)
		RETURNING community_id, id, building_id, label, created_at`, c, newID(), building, label)
	if isUnique(err) {
		return u, access.Invalid("label", "unit %q exists already in this building", label)
	}
	if err != nil {
		return u, fmt.Errorf("create unit: %w", err)
	}
	return u, tx.Audit(ctx, c, "unit.create", "unit:"+u.ID.String(), map[string]any{"building_id": building, "label": label})
}

// Units lists a community's units, optionally of one building.
func (db *DB) Units(ctx context.Context, c uuid.UUID, building uuid.UUID) ([]access.Unit, error) {
	out := []access.Unit{}
	err := db.x.SelectContext(ctx, &out, `SELECT community_id, id, building_id, label, created_at FROM units
		WHERE community_id = $1 AND ($2::uuid IS NULL OR building_id = $2) ORDER BY building_id, label`, c, nullUUID(building))
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	return out, nil
}

// PutZone creates or renames a zone.
func (tx *Tx) PutZone(ctx context.Context, z access.Zone) error {
	_, err := tx.x.ExecContext(ctx, `INSERT INTO zones (community_id, zone, name, anti_passback) VALUES ($1, $2, $3, $4)
		ON CONFLICT (community_id, zone) DO UPDATE SET name = EXCLUDED.name, anti_passback = EXCLUDED.anti_passback`,
		z.Community, z.Zone, z.Name, z.AntiPassback)
	if err != nil {
		return fmt.Errorf("put zone: %w", err)
	}
	if err := tx.Change(ctx, z.Community, "zone", uuid.Nil, z.Community, z); err != nil {
		return err
	}
	return tx.Audit(ctx, z.Community, "zone.put", fmt.Sprintf("zone:%d", z.Zone), z)
}

// Zones lists a community's zones.
func (db *DB) Zones(ctx context.Context, c uuid.UUID) ([]access.Zone, error) {
	out := []access.Zone{}
	err := db.x.SelectContext(ctx, &out, `SELECT community_id, zone, name, anti_passback FROM zones WHERE community_id = $1 ORDER BY zone`, c)
	if err != nil {
		return nil, fmt.Errorf("list zones: %w", err)
	}
	return out, nil
}

func (tx *Tx) exists(ctx context.Context, query string, args ...any) error {
	var one int
	err := tx.x.GetContext(ctx, &one, query, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return access.ErrNotFound
	}
	return err
}

// nullUUID maps uuid.Nil to SQL NULL, for optional filters.
func nullUUID(id uuid.UUID) any {
	if id == uuid.Nil {
		return nil
	}
	return id
}
