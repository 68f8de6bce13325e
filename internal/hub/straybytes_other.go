//go:build !unix

package hub

import "net"

// strayBytes cannot peek at a socket here; only the bytes already
// buffered are checked (moduleBody.finish, moduleTransport.conn).
func strayBytes(net.Conn) bool { return false }
