package httpx

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
)

// CancelOnClose makes the request's context (c.UserContext) end when the client closes
// its connection, and returns the function that stops watching; call it before the
// handler returns. fasthttp never cancels a request's context, so without this a
// client that gave up (a gate's timeout, a gate gone) left its work running: a long
// poll held to its end, an upload's transaction run to its commit (issue 20 item 6).
//
// The connection is watched through the runtime's poller, not by a goroutine reading
// it: a peek at it once it is readable tells a close (end of stream, or an error) from
// bytes of a next request (then the client is there; the watch ends). On a connection
// that cannot be watched (TLS terminated here, a test's pipe) it does nothing.
func CancelOnClose(c *fiber.Ctx) (stop func()) {
	conn := c.Context().Conn()
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return func() {}
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(c.UserContext())
	c.SetUserContext(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var buf [1]byte
		_ = rc.Read(func(fd uintptr) bool {
			n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch {
			case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
				return false // nothing yet: wait until the connection is readable
			case err != nil, n == 0:
				cancel() // reset, or the end of the stream: the client has gone
			}
			return true // closed, or the client sent more (still there): done watching
		})
	}()
	return func() {
		// A read deadline in the past ends the poller's wait; fasthttp sets its own
		// before it reads the connection's next request.
		_ = conn.SetReadDeadline(aLongTimeAgo)
		<-done
		_ = conn.SetReadDeadline(time.Time{})
		cancel()
	}
}

var aLongTimeAgo = time.Unix(1, 0)
