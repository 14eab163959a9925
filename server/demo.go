package main

import (
	"context"
	"fmt"
	"time"

	"gatepass/internal/access"
	"gatepass/internal/secret"
	"gatepass/internal/store"
)

// demo is what `server demo seed` makes; make run prints it.
type demo struct {
	Community      access.CommunityInfo
	OperatorToken  string
	AdminToken     string
	GuardToken     string
	Resident       access.Resident
	ResidentInvite store.Invite
	CardPayload    string // a printed card for the demo resident: scan it at the demo gate
	GateEnrollment []access.Enrollment
	Gates          []access.Gate
}

func cmdDemoSeed(ctx context.Context, e *env) error {
	var d demo
	err := e.db.InTx(ctx, "cli:demo", func(tx *store.Tx) error { return seedDemo(ctx, tx, e.sealer, e.cfg.tokenTTL, &d) })
	if err != nil {
		return fmt.Errorf("seed demo: %w", err)
	}
	_, d.CardPayload, err = e.db.IssueCard(ctx, "cli:demo", d.Community.ID, d.Resident.ID, 30*24*time.Hour, e.sealer)
	if err != nil {
		return fmt.Errorf("seed demo card: %w", err)
	}
	stdout := e.stdout
	// Shell-sourceable, so scripts can pick the values up; single quotes because QR text
	// (Base45) has spaces, $ and % but never a quote.
	fmt.Fprintf(stdout, "DEMO_COMMUNITY_ID='%s'\n", d.Community.ID)
	fmt.Fprintf(stdout, "DEMO_OPERATOR_TOKEN='%s'\n", d.OperatorToken)
	fmt.Fprintf(stdout, "DEMO_ADMIN_TOKEN='%s'\n", d.AdminToken)
	fmt.Fprintf(stdout, "DEMO_GUARD_TOKEN='%s'\n", d.GuardToken)
	fmt.Fprintf(stdout, "DEMO_INVITE_CODE='%s'\n", d.ResidentInvite.Code)
	fmt.Fprintf(stdout, "DEMO_CARD_PAYLOAD='%s'\n", d.CardPayload)
	for i, g := range d.Gates {
		fmt.Fprintf(stdout, "DEMO_GATE%d_ID='%s'\n", i+1, g.ID)
		fmt.Fprintf(stdout, "DEMO_GATE%d_ENROLLMENT_CODE='%s'\n", i+1, d.GateEnrollment[i].Code)
	}
	return nil
}

func seedDemo(ctx context.Context, tx *store.Tx, sealer *secret.Sealer, tokenTTL time.Duration, d *demo) (err error) {
	if d.Community, err = tx.CreateCommunity(ctx, "Demo Gardens 示范花园", sealer); err != nil {
		return err
	}
	c := d.Community.ID
	if err := tx.PutZone(ctx, access.Zone{Community: c, Zone: 1, Name: "Building 1 lobby"}); err != nil {
		return err
	}
	// Building 1's residents open the perimeter and its lobby (zone 1), by default.
	b, err := tx.CreateBuildingZones(ctx, c, "Building 1", access.ZoneMask(0).With(1))
	if err != nil {
		return err
	}
	var first access.Unit
	for i, label := range []string{"101", "102", "201", "202"} {
		u, err := tx.CreateUnit(ctx, c, b.ID, label)
		if err != nil {
			return err
		}
		if i == 0 {
			first = u
		}
	}
	d.Resident, d.ResidentInvite, err = tx.CreateResident(ctx, store.NewResident{Community: c, Name: "Li Wei 李伟", Unit: first.ID, Role: access.RoleOwner})
	if err != nil {
		return err
	}
	for _, g := range []store.NewGate{
		{Community: c, Name: "North gate", Zone: 0, Direction: "both"},
		{Community: c, Name: "Building 1 lobby", Zone: 1, Direction: "in"},
	} {
		gate, en, err := tx.CreateGate(ctx, g)
		if err != nil {
			return err
		}
		d.Gates = append(d.Gates, gate)
		d.GateEnrollment = append(d.GateEnrollment, en)
	}
	for _, s := range []struct {
		staff store.NewStaff
		token *string
	}{
		{store.NewStaff{Name: "Demo operator", Role: access.StaffAdmin}, &d.OperatorToken},
		{store.NewStaff{Community: c, Name: "Demo property admin", Role: access.StaffAdmin}, &d.AdminToken},
		{store.NewStaff{Community: c, Name: "Demo guard", Role: access.StaffGuard}, &d.GuardToken},
	} {
		s.staff.Token = store.TokenSpec{Default: tokenTTL}
		_, tok, err := tx.CreateStaff(ctx, s.staff)
		if err != nil {
			return err
		}
		*s.token = tok.Token
	}
	return nil
}
