// Package ports answers questions about local TCP ports: is something
// listening, and which process holds a port. Errors that mention a busy
// port use it to name the holder.
package ports

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Holder describes a process that holds a listening socket.
type Holder struct {
	PID  int
	Name string // short command name, e.g. "python3"
	Cmd  string // full command line, may be empty
}

func (h Holder) String() string {
	if h.PID == 0 {
		return "an unknown process"
	}
	if h.Name == "" {
		return fmt.Sprintf("pid %d", h.PID)
	}
	return fmt.Sprintf("%s (pid %d)", h.Name, h.PID)
}

// Listening reports whether something accepts TCP connections on
// 127.0.0.1:port within timeout.
func Listening(port int, timeout time.Duration) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), timeout)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Describe returns a human description of who holds port, for error
// messages: "python3 (pid 4242)", or "another process" when it cannot tell
// (e.g. the holder belongs to another user and /proc hides its fds).
func Describe(port int) string {
	if h, ok := HolderOf(port); ok {
		return h.String()
	}
	return "another process"
}
