package ports

import (
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

func TestListeningAndHolder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if !Listening(port, time.Second) {
		t.Fatalf("Listening(%d) = false for a bound listener", port)
	}
	if runtime.GOOS == "linux" {
		h, ok := HolderOf(port)
		if !ok || h.PID != os.Getpid() {
			t.Fatalf("HolderOf(%d) = %+v, %v; want this process (pid %d)", port, h, ok, os.Getpid())
		}
	}
	ln.Close()
	if Listening(port, time.Second) {
		t.Fatalf("Listening(%d) = true after close", port)
	}
	if _, ok := HolderOf(port); ok {
		t.Fatalf("HolderOf(%d) found a holder after close", port)
	}
}
