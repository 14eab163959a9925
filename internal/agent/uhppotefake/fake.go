// Package uhppotefake is a UHPPOTE UT0311-L0x controller for tests: a UDP responder on
// the loopback that decodes each request with uhppote-core's own codecs and answers as a
// controller would, or misbehaves as told (refuse, stay silent, answer malformed or as
// another serial number). It keeps an event log the tests append to and can push events
// to a listener, as a controller sends them to its event listener. Tests only: nothing in
// the agent imports it.
package uhppotefake

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	codec "github.com/uhppoted/uhppote-core/encoding/UTO311-L0x"
	"github.com/uhppoted/uhppote-core/messages"
	"github.com/uhppoted/uhppote-core/types"
)

// Modes of answering.
const (
	OK          = "ok"           // answer as a controller does
	Refuse      = "refuse"       // answer opening and control requests with failure
	Silent      = "silent"       // never answer
	Malformed   = "malformed"    // answer with bytes no codec accepts
	WrongSerial = "wrong_serial" // answer as another controller
)

// Record types and reasons of the controller's log (uhppote-core messages/events.go).
const (
	TypeSwipe      = 0x01
	TypeDoor       = 0x02
	TypeWarning    = 0x03
	TypeOverwrite  = 0xff
	ReasonSwipe    = 1
	ReasonButton   = 20
	ReasonDoorOpen = 23
	ReasonTooLong  = 37
	ReasonForced   = 38
)

// Record is one record of the log.
type Record struct {
	Type    byte
	Granted bool
	Door    uint8
	Reason  uint8
	At      time.Time
}

// Controller is the fake controller.
type Controller struct {
	Serial uint32
	conn   *net.UDPConn

	mu       sync.Mutex
	mode     string
	log      []Record
	requests []messages.Request
	opens    map[uint8]int
	state    map[uint8]types.ControlState
	delay    map[uint8]uint8
	clock    time.Duration // the controller's clock minus the real one
	done     chan struct{}
}

// Start listens on 127.0.0.1 (an ephemeral port) and answers until Close.
func Start(serial uint32) (*Controller, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("fake controller: %w", err)
	}
	c := &Controller{Serial: serial, conn: conn, mode: OK, opens: map[uint8]int{}, done: make(chan struct{}),
		state: map[uint8]types.ControlState{1: types.Controlled, 2: types.Controlled, 3: types.Controlled, 4: types.Controlled},
		delay: map[uint8]uint8{1: 3, 2: 3, 3: 3, 4: 3}}
	go c.serve()
	return c, nil
}

// Addr is the controller's ADDR:PORT.
func (c *Controller) Addr() string { return c.conn.LocalAddr().String() }

// Close stops answering.
func (c *Controller) Close() {
	c.conn.Close()
	<-c.done
}

// SetMode sets how the controller answers from now on.
func (c *Controller) SetMode(mode string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mode = mode
}

// SetClock sets the controller's clock off the real one by d.
func (c *Controller) SetClock(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clock = d
}

// Opens counts the open-door requests for door that the controller answered with success.
func (c *Controller) Opens(door uint8) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opens[door]
}

// State is a door's control mode and open delay.
func (c *Controller) State(door uint8) (types.ControlState, uint8) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state[door], c.delay[door]
}

// Requests are the requests received, decoded.
func (c *Controller) Requests() []messages.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]messages.Request(nil), c.requests...)
}

// Append adds a record to the log and returns its index.
func (c *Controller) Append(r Record) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.At.IsZero() {
		r.At = time.Now().Add(c.clock)
	}
	c.log = append(c.log, r)
	return uint32(len(c.log))
}

// Reset empties the log, as a controller reset to its defaults does.
func (c *Controller) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = nil
}

// Push sends the record at index to a listener, as the controller's event message.
func (c *Controller) Push(to string, index uint32) error {
	c.mu.Lock()
	r := c.log[index-1]
	msg := messages.Event{SerialNumber: types.SerialNumber(c.Serial), EventIndex: index, EventType: r.Type,
		Granted: r.Granted, Door: r.Door, Timestamp: types.DateTime(r.At), Reason: r.Reason,
		SystemDate: types.SystemDate(time.Now().Add(c.clock)), SystemTime: types.SystemTime(time.Now().Add(c.clock))}
	c.mu.Unlock()
	raw, err := codec.Marshal(msg)
	if err != nil {
		return err
	}
	addr, err := net.ResolveUDPAddr("udp4", to)
	if err != nil {
		return err
	}
	_, err = c.conn.WriteToUDP(raw, addr)
	return err
}

func (c *Controller) serve() {
	defer close(c.done)
	buf := make([]byte, 2048)
	for {
		n, from, err := c.conn.ReadFromUDP(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		req, err := messages.UnmarshalRequest(buf[:n])
		if err != nil {
			continue // a controller ignores what it cannot read
		}
		if out := c.answer(req); out != nil {
			_, _ = c.conn.WriteToUDP(out, from)
		}
	}
}

// answer is the bytes the controller sends back to req, or nil for none.
func (c *Controller) answer(req messages.Request) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, req)
	switch c.mode {
	case Silent:
		return nil
	case Malformed:
		return []byte{0x17, 0x40, 0, 0, 1, 2, 3}
	}
	serial := types.SerialNumber(c.Serial)
	if c.mode == WrongSerial {
		serial++
	}
	refuse := c.mode == Refuse
	now := time.Now().Add(c.clock)
	var reply any
	switch r := req.(type) {
	case *messages.OpenDoorRequest:
		if c.mode == OK && c.state[r.Door] != types.NormallyClosed {
			c.opens[r.Door]++ // the other controller of WrongSerial opens its own door, not this one
		}
		reply = messages.OpenDoorResponse{SerialNumber: serial, Succeeded: !refuse && c.state[r.Door] != types.NormallyClosed}
	case *messages.GetDoorControlStateRequest:
		reply = messages.GetDoorControlStateResponse{SerialNumber: serial, Door: r.Door, ControlState: uint8(c.state[r.Door]), Delay: c.delay[r.Door]}
	case *messages.SetDoorControlStateRequest:
		if !refuse {
			c.state[r.Door], c.delay[r.Door] = types.ControlState(r.ControlState), r.Delay
		}
		reply = messages.SetDoorControlStateResponse{SerialNumber: serial, Door: r.Door, ControlState: uint8(c.state[r.Door]), Delay: c.delay[r.Door]}
	case *messages.GetTimeRequest:
		reply = messages.GetTimeResponse{SerialNumber: serial, DateTime: types.DateTime(now)}
	case *messages.GetStatusRequest:
		st := messages.GetStatusResponse{SerialNumber: serial, SystemDate: types.SystemDate(now), SystemTime: types.SystemTime(now)}
		if n := len(c.log); n > 0 {
			last := c.log[n-1]
			st.EventIndex, st.EventType, st.Granted, st.Door, st.Reason, st.Timestamp = uint32(n), last.Type, last.Granted, last.Door, last.Reason, types.DateTime(last.At)
		}
		reply = st
	case *messages.GetEventRequest:
		ev := messages.GetEventResponse{SerialNumber: serial, Timestamp: types.DateTime(now)}
		if i := int(r.Index); i >= 1 && i <= len(c.log) {
			rec := c.log[i-1]
			ev.Index, ev.Type, ev.Granted, ev.Door, ev.Reason, ev.Timestamp = r.Index, rec.Type, rec.Granted, rec.Door, rec.Reason, types.DateTime(rec.At)
		}
		reply = ev
	default:
		return nil
	}
	raw, err := codec.Marshal(reply)
	if err != nil {
		panic(fmt.Sprintf("fake controller: marshal %T: %v", reply, err))
	}
	return raw
}
