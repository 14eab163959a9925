// Command gate-agent runs on a gate's reader box: it decides at the door, offline if it
// must, and reports every decision to the server (docs/gate-agent.md).
//
//	gate-agent enroll --server URL --code CODE [--state DIR]
//	gate-agent run [--state DIR] [--input ...] [--door ...]
//	gate-agent status [--state DIR]
//	gate-agent check [--state DIR] PAYLOAD
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	// The time zone database is embedded: schedules are judged in the community's
	// time zone, and a gate box (or a container) may have no zoneinfo of its own.
	_ "time/tzdata"

	"gatepass/internal/agent"
	"gatepass/internal/gate"
	"gatepass/internal/secret"
)

const usage = `usage: gate-agent <command> [flags]

commands:
  enroll --server URL --code CODE [--state DIR]   redeem a one-time enrollment code
  run [--state DIR] [flags]                        the daemon (see run -h)
  status [--state DIR]                             enrollment, last sync, queue depth, clock offset
  check [--state DIR] PAYLOAD                      what the gate would decide now, and why

environment: GATE_AGENT_STATE (default /var/lib/gate-agent), GATE_AGENT_DOOR and GATE_AGENT_DOOR_EVENTS
(defaults of run's --door and --door-events, e.g. from a systemd EnvironmentFile),
GATE_AGENT_CLOCK_OFFSET (tests)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func(context.Context, []string, io.Reader, io.Writer, io.Writer) error{
		"enroll": cmdEnroll, "run": cmdRun, "status": cmdStatus, "check": cmdCheck,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if err := cmd(ctx, args[1:], stdin, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintf(stderr, "gate-agent %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func stateFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("GATE_AGENT_STATE")
	if def == "" {
		def = "/var/lib/gate-agent"
	}
	return fs.String("state", def, "state directory (env GATE_AGENT_STATE)")
}

func cmdEnroll(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("enroll", flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := stateFlag(fs)
	server := fs.String("server", "", "server base URL, e.g. https://gates.example.com")
	code := fs.String("code", "", "one-time enrollment code from the admin API")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *server == "" || *code == "" {
		return errors.New("--server and --code are required")
	}
	en, err := agent.Register(ctx, *server, *code, *state)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "enrolled gate %s (%s) of community %s, zone %d, direction %s; state in %s\n",
		en.Gate.ID, en.Gate.Name, en.Gate.Community, en.Gate.Zone, en.Gate.Direction, *state)
	return nil
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func cmdRun(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := stateFlag(fs)
	var inputs, doorArgs listFlag
	fs.Var(&inputs, "input", "scanner input, repeatable: stdin | serial:/dev/ttyUSB0 | tcp[:ADDR] (default 127.0.0.1:7000)")
	baud := fs.Int("baud", 9600, "serial baud rate")
	httpAddr := fs.String("http", "127.0.0.1:7001", "local HTTP address for POST /scan and /check (empty: off)")
	door := fs.String("door", envOr("GATE_AGENT_DOOR", "log"),
		"door driver: log | command:/path/to/program | http:URL | gpio:/dev/gpiochip0:LINE | uhppote:SERIAL@ADDR:PORT/DOOR (env GATE_AGENT_DOOR)")
	doorEvents := fs.String("door-events", os.Getenv("GATE_AGENT_DOOR_EVENTS"),
		"uhppote: UDP ADDR:PORT the controller sends its events to (its event listener); empty: its log is polled (env GATE_AGENT_DOOR_EVENTS)")
	doorTimeout := fs.Duration("door-timeout", 400*time.Millisecond, "uhppote: how long one request waits for the controller's answer (2 tries)")
	fs.Var(&doorArgs, "door-arg", "argument for the command door, repeatable (the pulse in ms is appended)")
	feedback := fs.String("feedback", "", "program run after each decision with RESULT REASON appended (beeper, LED)")
	pulse := fs.Duration("pulse", 0, "door pulse length (default: the gate's pulse_ms setting)")
	offset := fs.Duration("clock-offset", envDuration("GATE_AGENT_CLOCK_OFFSET"), "add this to the system clock (tests of a wrong gate clock)")
	wait := fs.Duration("wait", 25*time.Second, "sync long-poll wait (max 30s)")
	maxBackoff := fs.Duration("max-backoff", 30*time.Second, "longest retry delay while the server is unreachable")
	heartbeat := fs.Duration("heartbeat", 0, "heartbeat period (default: the gate's heartbeat_seconds setting)")
	maxConns := fs.Int("max-conns", 16, "most connections served at once by each TCP input and by the local HTTP")
	idle := fs.Duration("tcp-idle", 5*time.Minute, "close a TCP scanner connection that sent nothing for this long")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(*logLevel))
	log := secret.NewLogger(stderr, level)
	d, err := openDoor(ctx, doorSpec{spec: *door, args: doorArgs, events: *doorEvents, timeout: *doorTimeout}, log)
	if err != nil {
		return err
	}
	cfg := agent.Config{StateDir: *state, Log: log, Door: d, ClockOffset: *offset, Wait: *wait, MaxBackoff: *maxBackoff,
		Heartbeat: *heartbeat, PulseOverride: *pulse, MaxConns: *maxConns, IdleTimeout: *idle}
	if *feedback != "" {
		cfg.Feedback = strings.Fields(*feedback)
	}
	a, err := agent.Open(cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	errs := make(chan error, len(inputs)+2)
	if *httpAddr != "" {
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			return fmt.Errorf("local http: %w", err)
		}
		a.SetLocalHTTP(ln.Addr().String())
		// Bounded like the TCP input: a capped number of connections, each with deadlines,
		// so idle or slow clients cannot pile up on a box with little memory.
		ln = agent.LimitListener(ln, *maxConns)
		srv := &http.Server{Handler: a.HTTPHandler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: time.Minute, IdleTimeout: time.Minute, MaxHeaderBytes: 8 << 10}
		context.AfterFunc(ctx, func() { srv.Close() })
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- err
			}
		}()
	}
	for _, in := range inputs {
		kind, arg, _ := strings.Cut(in, ":")
		switch kind {
		case "stdin":
			go func() {
				if err := a.ReadLines(ctx, "stdin", stdin); err != nil {
					log.Error("stdin", "err", err)
				}
			}()
		case "serial":
			go func() { _ = a.ReadSerial(ctx, arg, *baud) }()
		case "tcp":
			if arg == "" {
				arg = "127.0.0.1:7000" // loopback unless the installer says otherwise
			}
			ln, err := net.Listen("tcp", arg)
			if err != nil {
				return fmt.Errorf("tcp input: %w", err)
			}
			go func() {
				if err := a.ServeTCP(ctx, ln); err != nil {
					errs <- err
				}
			}()
		default:
			return fmt.Errorf("--input %q: want stdin, serial:PORT or tcp:ADDR", in)
		}
	}
	log.Info("gate-agent running", "version", agent.Version, "state", *state, "inputs", inputs.String(), "door", *door)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case err := <-errs:
		return err
	case err := <-done:
		return err
	}
}

func envDuration(key string) time.Duration {
	d, _ := time.ParseDuration(os.Getenv(key))
	return d
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// doorSpec is what run's flags say of the door.
type doorSpec struct {
	spec    string
	args    []string // command door
	events  string   // uhppote: event listener address
	timeout time.Duration
}

func openDoor(ctx context.Context, ds doorSpec, log *slog.Logger) (agent.Door, error) {
	spec, args := ds.spec, ds.args
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "log":
		return agent.LogDoor{Log: log}, nil
	case "command":
		if arg == "" {
			return nil, errors.New("--door command:PATH needs a program")
		}
		return agent.CommandDoor{Path: arg, Args: args}, nil
	case "http":
		return agent.HTTPDoor{URL: arg}, nil
	case "gpio":
		i := strings.LastIndex(arg, ":")
		if i < 0 {
			return nil, errors.New("--door gpio:CHIP:LINE, e.g. gpio:/dev/gpiochip0:17")
		}
		n, err := strconv.ParseUint(arg[i+1:], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--door gpio line: %w", err)
		}
		line, err := agent.OpenGPIOLine(arg[:i], uint32(n))
		if err != nil {
			return nil, err
		}
		return agent.GPIODoor{Line: line}, nil
	case "uhppote":
		return openUHPPOTE(ctx, arg, ds, log)
	}
	return nil, fmt.Errorf("--door %q: want log, command:PATH, http:URL, gpio:CHIP:LINE or uhppote:SERIAL@ADDR:PORT/DOOR", spec)
}

// openUHPPOTE checks the controller door at start: a malformed spec, or a controller at
// the address that answers as another serial number, stops the agent with the reason; a
// controller that does not answer yet is logged and tried again at each opening, so that
// a gate booting before its controller still records every decision.
func openUHPPOTE(ctx context.Context, arg string, ds doorSpec, log *slog.Logger) (agent.Door, error) {
	spec, err := agent.ParseUHPPOTEDoor(arg)
	if err != nil {
		return nil, fmt.Errorf("--door uhppote: %w", err)
	}
	d := agent.NewUHPPOTEDoor(agent.UHPPOTEConfig{Door: spec, Timeout: ds.timeout, Listen: ds.events, Log: log})
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	switch err := d.Probe(pctx); {
	case errors.Is(err, agent.ErrDoorNoAnswer):
		log.Warn("uhppote controller does not answer yet; the agent runs and tries it at each opening", "door", d.String(), "err", err)
	case err != nil:
		return nil, fmt.Errorf("--door uhppote:%s: %w", spec, err)
	default:
		log.Info("uhppote controller answers", "door", d.String())
	}
	return d, nil
}

func cmdStatus(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := stateFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := agent.ReadStatus(*state)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

func cmdCheck(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := stateFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("give the payload (QR text) as the one argument")
	}
	payload := fs.Arg(0)
	var rep agent.Report
	a, err := agent.Open(agent.Config{StateDir: *state, ClockOffset: envDuration("GATE_AGENT_CLOCK_OFFSET")})
	switch {
	case err == nil:
		dec, cerr := a.Check(payload)
		a.Close()
		if errors.Is(cerr, gate.ErrEmpty) {
			return errors.New("empty payload: nothing to decide")
		}
		rep = agent.CheckReport(dec)
	case errors.Is(err, agent.ErrLocked):
		// The running agent holds the store: ask it through its local HTTP.
		if rep, err = checkRunning(ctx, *state, payload); err != nil {
			return err
		}
	default:
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func checkRunning(ctx context.Context, state, payload string) (agent.Report, error) {
	var rep agent.Report
	s, err := agent.ReadStatus(state)
	if err != nil || s.LocalHTTP == "" {
		return rep, fmt.Errorf("the agent is running without its local HTTP endpoint: %v", err)
	}
	body, _ := json.Marshal(map[string]string{"payload": payload})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.LocalHTTP+"/check", strings.NewReader(string(body)))
	if err != nil {
		return rep, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rep, fmt.Errorf("ask the running agent: %w", err)
	}
	defer resp.Body.Close()
	// 413 is a decision too (malformed: longer than the gate reads); anything else that
	// is not 200 is an error to report, never an empty result.
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusRequestEntityTooLarge {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return rep, fmt.Errorf("the running agent answered %d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil || rep.Result == "" {
		return rep, fmt.Errorf("the running agent's answer: %v", err)
	}
	return rep, nil
}
