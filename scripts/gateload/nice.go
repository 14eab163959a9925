package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// The simulated gates stand for a thousand devices with cores of their own; on this
// machine they take the server's and the database's. With -nice N this program runs its
// gates at nice N, so that the cores go to the server and PostgreSQL first, as they would
// with the gates elsewhere, and starts the server and the staff probe back at the
// caller's priority (nice -N, which takes root). What the gates measure (a revocation's
// arrival) can only be later for it. The bare COPY the ingest is compared with runs at
// the caller's priority too, as the server's batches do.

// setPriority sets every thread of this process to nice n: Linux keeps a nice value per
// thread, and a thread the runtime starts later takes its creator's.
func setPriority(n int) error {
	for range 2 { // threads started while the first pass ran
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("nice: %w", err)
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, n); err != nil {
				return fmt.Errorf("nice %d: thread %d: %w", n, tid, err)
			}
		}
	}
	return nil
}

// gatesNice is -nice.
var gatesNice int

// atCallersPriority is a command for a program that must not run at the gates' nice.
func atCallersPriority(ctx context.Context, bin string, args ...string) *exec.Cmd {
	if gatesNice == 0 {
		return exec.CommandContext(ctx, bin, args...)
	}
	return exec.CommandContext(ctx, "nice", append([]string{"-n", strconv.Itoa(-gatesNice), bin}, args...)...)
}
