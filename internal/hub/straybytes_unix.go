//go:build unix

package hub

import (
	"errors"
	"net"
	"syscall"
)

// strayBytes reports whether the idle connection c has bytes (or an EOF)
// waiting to be read, without consuming them or blocking.
//
// Why: an idle pooled connection has no goroutine reading it (see
// moduleTransport), so whatever a module wrote after the answer it was
// asked for (a body on a HEAD answer, an unsolicited write) would be read
// as the answer to the next request on that connection, which may be
// another client's. http.Transport's idle reader closes such a connection
// ("Unsolicited response received on idle HTTP channel"); this check,
// run before reuse, does the same for one recv syscall. A deadline cannot
// do it: Go fails a read whose deadline has passed before calling recv.
func strayBytes(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true // not a socket we can peek at: do not reuse it
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	stray := true
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing waiting is EAGAIN. No error is a byte or the module's
		// EOF (a dead connection, not reusable either); any other error
		// is a connection not worth trying.
		stray = !errors.Is(rerr, syscall.EAGAIN) && !errors.Is(rerr, syscall.EWOULDBLOCK)
		return true // never wait for readability
	})
	return err != nil || stray
}
