package agent

// The UHPPOTE UT0311-L0x door driver (docs/gate-agent.md, "A UHPPOTE controller"). Most
// gates and building doors hang their relay, door contact and exit button off a networked
// access controller rather than the box's GPIO; this driver asks such a controller to open
// one of its doors, reads its numbered event log (forced open, held open, exit button),
// its clock, and switches the door to normally closed for a lockdown. The wire protocol
// (64-byte UDP messages) is uhppote-core's: its client sends and checks each request, its
// codec decodes the events the controller pushes. The controller decides nothing itself:
// it holds no cards, so every entry is decided by gatepass.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	codec "github.com/uhppoted/uhppote-core/encoding/UTO311-L0x"
	"github.com/uhppoted/uhppote-core/messages"
	"github.com/uhppoted/uhppote-core/types"
	"github.com/uhppoted/uhppote-core/uhppote"
)

// What a door controller answered to a request. The agent records each failure of an
// opening as a door event with the matching reason (doorReason).
var (
	// ErrDoorRefused: the controller answered, and said no (its door is disabled, or held
	// normally closed by a lockdown).
	ErrDoorRefused = errors.New("the door controller refused")
	// ErrDoorNoAnswer: no answer within the bound, after the bounded retries.
	ErrDoorNoAnswer = errors.New("the door controller did not answer")
	// ErrDoorBadAnswer: an answer that is not this controller's valid answer (malformed,
	// another serial number, another message).
	ErrDoorBadAnswer = errors.New("the door controller's answer is not valid")
	// ErrUHPPOTESpec: a --door uhppote:... value that names no controller door.
	ErrUHPPOTESpec = errors.New("want uhppote:SERIAL@ADDR:PORT/DOOR, e.g. uhppote:405419896@192.168.1.100:60000/1")
)

// UHPPOTEDoorSpec is one door of one controller: SERIAL@ADDR:PORT/DOOR.
type UHPPOTEDoorSpec struct {
	Serial uint32         // the controller's serial number (on its label; never 0)
	Addr   netip.AddrPort // its IPv4 address and UDP port (60000 unless changed)
	Door   uint8          // 1 to 4
}

func (s UHPPOTEDoorSpec) String() string { return fmt.Sprintf("%d@%s/%d", s.Serial, s.Addr, s.Door) }

// ParseUHPPOTEDoor parses SERIAL@ADDR:PORT/DOOR. The address is a literal IPv4 address
// of one controller: the driver never broadcasts, so that a second controller on the
// network, or a typo, cannot open a door it was not meant to.
func ParseUHPPOTEDoor(s string) (UHPPOTEDoorSpec, error) {
	var spec UHPPOTEDoorSpec
	serial, rest, ok := strings.Cut(s, "@")
	i := strings.LastIndex(rest, "/")
	if !ok || i < 0 {
		return spec, fmt.Errorf("%q: %w", s, ErrUHPPOTESpec)
	}
	n, err := strconv.ParseUint(serial, 10, 32)
	if err != nil || n == 0 {
		return spec, fmt.Errorf("%q: the serial number must be the controller's (1 to 4294967295, on its label): %w", s, ErrUHPPOTESpec)
	}
	addr, err := netip.ParseAddrPort(rest[:i])
	switch {
	case err != nil:
		return spec, fmt.Errorf("%q: address: %v: %w", s, err, ErrUHPPOTESpec)
	case !addr.Addr().Is4() || addr.Addr().IsUnspecified() || addr.Addr().IsMulticast() || addr.Addr() == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return spec, fmt.Errorf("%q: the address must be the controller's own IPv4 address (no broadcast): %w", s, ErrUHPPOTESpec)
	case addr.Port() == 0:
		return spec, fmt.Errorf("%q: the port must not be 0 (controllers listen on 60000): %w", s, ErrUHPPOTESpec)
	}
	door, err := strconv.ParseUint(rest[i+1:], 10, 8)
	if err != nil || door < 1 || door > 4 {
		return spec, fmt.Errorf("%q: the door must be 1 to 4: %w", s, ErrUHPPOTESpec)
	}
	return UHPPOTEDoorSpec{Serial: uint32(n), Addr: addr, Door: uint8(door)}, nil
}

// UHPPOTEConfig is how the driver talks to its controller.
type UHPPOTEConfig struct {
	Door UHPPOTEDoorSpec
	// Timeout bounds one request's answer (default 400 ms: a controller on the LAN
	// answers in a few ms).
	Timeout time.Duration
	// Attempts bounds the requests of one opening or one control change (default 2): a
	// request is sent again only when no answer came, never after a refusal.
	Attempts int
	// Listen is the UDP address the controller sends its events to (its "event
	// listener", set on the controller); empty: the log is only polled.
	Listen string
	Log    *slog.Logger
}

// UHPPOTEDoor is a door of a UHPPOTE UT0311-L0x controller. It is a RemoteDoor: the agent
// opens it off the decision's path and records what the controller answered; and a
// DoorMonitor: the agent reads its event log and clock.
type UHPPOTEDoor struct {
	cfg UHPPOTEConfig
	u   uhppote.IUHPPOTE
	// delay is the door's open time (s) in controlled mode as read at start, which
	// Lockdown(false) restores; 0: not read yet.
	delay atomic.Uint32
}

// NewUHPPOTEDoor makes the driver; it sends nothing (Probe checks the controller).
func NewUHPPOTEDoor(cfg UHPPOTEConfig) *UHPPOTEDoor {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 400 * time.Millisecond
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 2
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := cfg.Door
	dev := uhppote.NewDevice("gate", s.Serial, types.ControllerAddrFrom(s.Addr.Addr(), s.Addr.Port()), "udp", nil, time.Local)
	// Bound to any address and port 0: each request has its own socket, so requests from
	// the door worker and the event loop never wait on a shared one.
	u := uhppote.NewUHPPOTE(types.BindAddrFrom(netip.IPv4Unspecified(), 0), types.BroadcastAddr{}, types.ListenAddr{},
		cfg.Timeout, []uhppote.Device{dev}, false)
	return &UHPPOTEDoor{cfg: cfg, u: u}
}

// Remote marks the door as one behind a controller on the network (RemoteDoor).
func (d *UHPPOTEDoor) Remote() {}

func (d *UHPPOTEDoor) String() string { return "uhppote:" + d.cfg.Door.String() }

// Probe checks that the controller at the address is the one with the serial number and
// reads the door's control mode and open time (restored after a lockdown). A controller
// that answers with another serial number, or not as a UT0311 would, is an installation
// error (ErrDoorBadAnswer); one that does not answer (ErrDoorNoAnswer) may be booting.
func (d *UHPPOTEDoor) Probe(ctx context.Context) error {
	var st *types.DoorControlState
	err := d.retry(ctx, "probe", func() (err error) {
		st, err = d.u.GetDoorControlState(d.cfg.Door.Serial, d.cfg.Door.Door)
		return err
	})
	if err != nil {
		return err
	}
	if uint32(st.SerialNumber) != d.cfg.Door.Serial || st.Door != d.cfg.Door.Door {
		return fmt.Errorf("%s: probe: answer for controller %d door %d: %w", d, st.SerialNumber, st.Door, ErrDoorBadAnswer)
	}
	d.delay.Store(uint32(st.Delay))
	if st.ControlState != types.Controlled {
		// Normally open lets anyone in; normally closed keeps everyone out. Either may be
		// a lockdown left over, so it is reported, not changed.
		d.cfg.Log.Warn("uhppote door is not in controlled mode: gatepass does not decide its entries", "door", d.String(),
			"mode", st.ControlState.String())
	}
	return nil
}

// Open asks the controller to open the door for its configured open time (the
// controller's door delay: the pulse is not part of the request). At most Attempts
// requests, each answered within Timeout; a refusal is not retried.
func (d *UHPPOTEDoor) Open(ctx context.Context, _ time.Duration) error {
	var res *types.Result
	err := d.retry(ctx, "open", func() (err error) {
		res, err = d.u.OpenDoor(d.cfg.Door.Serial, d.cfg.Door.Door)
		return err
	})
	switch {
	case err != nil:
		return err
	case uint32(res.SerialNumber) != d.cfg.Door.Serial:
		return fmt.Errorf("%s: open: answer from controller %d: %w", d, res.SerialNumber, ErrDoorBadAnswer)
	case !res.Succeeded:
		return fmt.Errorf("%s: open: %w", d, ErrDoorRefused)
	}
	return nil
}

// Lockdown sets the door normally closed (on: no opening request, button or card opens
// it until released) or back to controlled with the open time read at start (off). It
// is the path a lockdown from the server will drive; a manual release still goes
// through Open.
func (d *UHPPOTEDoor) Lockdown(ctx context.Context, on bool) error {
	mode, delay := types.Controlled, uint8(d.delay.Load())
	if on {
		mode = types.NormallyClosed
	}
	if delay == 0 {
		delay = 5 // the controller's own default, when the start could not read it
	}
	var st *types.DoorControlState
	err := d.retry(ctx, "lockdown", func() (err error) {
		st, err = d.u.SetDoorControlState(d.cfg.Door.Serial, d.cfg.Door.Door, mode, delay)
		return err
	})
	switch {
	case err != nil:
		return err
	case uint32(st.SerialNumber) != d.cfg.Door.Serial || st.Door != d.cfg.Door.Door || st.ControlState != mode:
		// The controller answers with the state it now has: anything else is a refusal.
		return fmt.Errorf("%s: lockdown %v: controller %d door %d is %s: %w", d, on, st.SerialNumber, st.Door, st.ControlState, ErrDoorRefused)
	}
	return nil
}

// Clock reads the controller's clock. The controller keeps local time without a zone;
// it is read in the box's zone (time.Local), which is the zone it must be set in.
func (d *UHPPOTEDoor) Clock(ctx context.Context) (time.Time, error) {
	var t *types.Time
	err := d.retry(ctx, "clock", func() (err error) {
		t, err = d.u.GetTime(d.cfg.Door.Serial)
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	if t.DateTime.IsZero() {
		return time.Time{}, fmt.Errorf("%s: clock: the controller's clock is not set: %w", d, ErrDoorBadAnswer)
	}
	return time.Time(t.DateTime), nil
}

// Latest is the index of the newest record in the controller's event log (0: empty).
func (d *UHPPOTEDoor) Latest(ctx context.Context) (uint32, error) {
	var st *types.Status
	err := d.retry(ctx, "status", func() (err error) {
		st, err = d.u.GetStatus(d.cfg.Door.Serial)
		return err
	})
	if err != nil {
		return 0, err
	}
	return st.Event.Index, nil
}

// Record reads the record at index of the controller's log. A record the controller has
// overwritten (its log is a ring) comes back Gone, so that reading on is not stuck on it.
func (d *UHPPOTEDoor) Record(ctx context.Context, index uint32) (DoorRecord, error) {
	var ev *types.Event
	err := d.retry(ctx, "event", func() (err error) {
		ev, err = d.u.GetEvent(d.cfg.Door.Serial, index)
		return err
	})
	switch {
	case errors.Is(err, ErrDoorBadAnswer) && strings.Contains(err.Error(), "overwritten"):
		// uhppote-core reports an overwritten record (type 0xff) only as this error.
		return DoorRecord{Index: index, Gone: true}, nil
	case err != nil:
		return DoorRecord{}, err
	case ev == nil || ev.Index != index:
		// Index 0: the controller has no such record (past its newest).
		return DoorRecord{Index: index, Gone: true}, nil
	}
	return uhppoteRecord(ev.Index, ev.Type, ev.Granted, ev.Door, ev.Reason, ev.Timestamp), nil
}

// Watch receives the events the controller pushes to cfg.Listen and sends them to out
// until ctx ends. Without a listen address it returns nil at once: the log is polled.
func (d *UHPPOTEDoor) Watch(ctx context.Context, out chan<- DoorRecord) error {
	if d.cfg.Listen == "" {
		return nil
	}
	addr, err := net.ResolveUDPAddr("udp4", d.cfg.Listen)
	if err != nil {
		return fmt.Errorf("uhppote event listener %q: %w", d.cfg.Listen, err)
	}
	conn, err := net.ListenUDP("udp4", addr)
	if err != nil {
		return fmt.Errorf("uhppote event listener: %w", err)
	}
	return d.watch(ctx, conn, out)
}

// watch reads conn until ctx ends; split from Watch so tests can listen on port 0.
func (d *UHPPOTEDoor) watch(ctx context.Context, conn *net.UDPConn, out chan<- DoorRecord) error {
	context.AfterFunc(ctx, func() { conn.Close() })
	buf := make([]byte, 2048)
	for {
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("uhppote event listener: %w", err)
		}
		var ev messages.Event
		if err := codec.Unmarshal(buf[:n], &ev); err != nil {
			d.cfg.Log.Warn("uhppote: not an event message; ignored", "from", from, "err", err)
			continue
		}
		if uint32(ev.SerialNumber) != d.cfg.Door.Serial {
			// Another controller sends to this listener: its events are not this door's.
			d.cfg.Log.Debug("uhppote: event of another controller; ignored", "from", from, "serial", ev.SerialNumber)
			continue
		}
		if ev.EventIndex == 0 {
			continue // a status without an event
		}
		select {
		case out <- uhppoteRecord(ev.EventIndex, ev.EventType, ev.Granted, ev.Door, ev.Reason, ev.Timestamp):
		case <-ctx.Done():
			return nil
		}
	}
}

// Controller names the controller for the agent's log cursor and logs.
func (d *UHPPOTEDoor) Controller() string {
	return "uhppote:" + strconv.FormatUint(uint64(d.cfg.Door.Serial), 10)
}

// DoorNumber is the door of the controller this driver drives.
func (d *UHPPOTEDoor) DoorNumber() uint8 { return d.cfg.Door.Door }

// retry runs req at most Attempts times while it gets no answer, and classifies its error.
func (d *UHPPOTEDoor) retry(ctx context.Context, what string, req func() error) error {
	var err error
	for i := 0; i < d.cfg.Attempts; i++ {
		if ctx.Err() != nil {
			break
		}
		if err = classify(req()); err == nil || !errors.Is(err, ErrDoorNoAnswer) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %s: %w", d, what, err)
	}
	return ctx.Err()
}

// classify sorts uhppote-core's errors, which are mostly untyped: a network error (a
// timeout, a refused port, a socket that could not be made) means no answer; anything
// else is an answer that did not pass its checks (length, start byte, message type,
// serial number).
func classify(err error) error {
	if err == nil {
		return nil
	}
	var op *net.OpError
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &op) {
		return fmt.Errorf("%w (%v)", ErrDoorNoAnswer, err)
	}
	return fmt.Errorf("%w (%v)", ErrDoorBadAnswer, err)
}

// UT0311 record types and reasons (uhppote-core messages/events.go) the agent reports.
const (
	uhppoteSwipe       = 0x01
	uhppoteDoorStatus  = 0x02
	uhppoteWarning     = 0x03
	uhppotePushButton  = 20
	uhppoteOpenTooLong = 37
	uhppoteForcedOpen  = 38
)

// uhppoteRecord turns a controller record into a DoorRecord with the kind the agent
// reports; every other record (door opened or closed, denied swipes, resets) keeps an
// empty kind and only moves the cursor.
func uhppoteRecord(index uint32, typ byte, granted bool, door, reason uint8, at types.DateTime) DoorRecord {
	r := DoorRecord{Index: index, Door: door, At: time.Time(at)}
	switch {
	case typ == uhppoteWarning && reason == uhppoteForcedOpen:
		r.Kind = DoorForcedOpen
	case typ == uhppoteWarning && reason == uhppoteOpenTooLong:
		r.Kind = DoorHeldOpen
	case typ == uhppoteDoorStatus && reason == uhppotePushButton:
		r.Kind = DoorExitButton
	case typ == uhppoteSwipe && granted:
		// The controller let a card in by its own list: an entry gatepass never decided.
		r.Kind = DoorLocalCard
	}
	return r
}
