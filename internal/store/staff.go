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

// CreateStaff adds a staff member (community uuid.Nil makes an operator) and returns the
// bearer token, which is shown once and stored only as a hash.
func (tx *Tx) CreateStaff(ctx context.Context, community uuid.UUID, name string, role access.StaffRole) (access.StaffMember, string, error) {
	tok, err := secret.New(secret.KindStaff, uuid.Nil)
	if err != nil {
		return access.StaffMember{}, "", err
	}
	var m access.StaffMember
	err = tx.x.GetContext(ctx, &m, `INSERT INTO staff (id, community_id, name, role) VALUES ($1, $2, $3, $4)
		RETURNING id, community_id, name, role, created_at, disabled_at`, newID(), nullUUID(community), name, role)
	if err != nil {
		return m, "", fmt.Errorf("create staff: %w", err)
	}
	if _, err := tx.x.ExecContext(ctx, `INSERT INTO staff_tokens (token_hash, staff_id) VALUES ($1, $2)`, tok.Hash[:], m.ID); err != nil {
		return m, "", fmt.Errorf("create staff token: %w", err)
	}
	return m, tok.Plain, tx.Audit(ctx, community, "staff.create", "staff:"+m.ID.String(),
		map[string]any{"name": name, "role": role})
}

// StaffByToken authenticates a bearer token.
func (db *DB) StaffByToken(ctx context.Context, plain string) (access.Staff, error) {
	_, h, err := secret.Parse(secret.KindStaff, plain)
	if err != nil {
		return access.Staff{}, access.ErrUnauthorized
	}
	var row struct {
		ID        uuid.UUID     `db:"id"`
		Name      string        `db:"name"`
		Role      string        `db:"role"`
		Community uuid.NullUUID `db:"community_id"`
	}
	err = db.x.GetContext(ctx, &row, `SELECT s.id, s.name, s.role, s.community_id FROM staff_tokens t
		JOIN staff s ON s.id = t.staff_id
		WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND s.disabled_at IS NULL`, h[:])
	if errors.Is(err, sql.ErrNoRows) {
		return access.Staff{}, access.ErrUnauthorized
	}
	if err != nil {
		return access.Staff{}, fmt.Errorf("authenticate staff: %w", err)
	}
	return access.Staff{ID: row.ID, Name: row.Name, Role: access.StaffRole(row.Role), Community: row.Community.UUID}, nil
}

// StaffMembers lists the staff of a community.
func (db *DB) StaffMembers(ctx context.Context, c uuid.UUID) ([]access.StaffMember, error) {
	out := []access.StaffMember{}
	err := db.x.SelectContext(ctx, &out, `SELECT id, community_id, name, role, created_at, disabled_at FROM staff
		WHERE community_id = $1 ORDER BY name, id`, c)
	if err != nil {
		return nil, fmt.Errorf("list staff: %w", err)
	}
	return out, nil
}
