package install

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/manifest"
)

func TestAssignPort(t *testing.T) {
	file := func(ports ...int) *manifest.File {
		f := &manifest.File{}
		for i, p := range ports {
			f.Services = append(f.Services, manifest.Service{Name: "other" + string(rune('a'+i)), Port: p})
		}
		return f
	}
	tests := []struct {
		name      string
		f         *manifest.File
		canonical int
		requested int
		listening fakePorts
		want      int
		wantMsg   []string
		wantErr   []string
	}{
		{name: "canonical free", f: file(), canonical: 1940, want: 1940},
		{name: "canonical registered to another row", f: file(1940), canonical: 1940, want: 1944,
			wantMsg: []string{"canonical port 1940 is registered to othera", "assigned 1944"}},
		{name: "canonical held by an unrelated process", f: file(), canonical: 1943, listening: fakePorts{1943: "python3 (pid 77)"},
			want: 1944, wantMsg: []string{"in use by python3 (pid 77)", "assigned 1944 from the unassigned Parachute range"}},
		{name: "pool skips runner's 1945", f: file(1944), canonical: 1943, listening: fakePorts{1943: "x"}, want: 1947, wantMsg: []string{"assigned 1947"}},
		{name: "no canonical port", f: file(), want: 1944, wantMsg: []string{"no canonical port"}},
		{name: "canonical is the hub's", f: file(), canonical: 1939, want: 1944, wantMsg: []string{"the hub's port"}},
		{name: "range full", f: file(1944, 1947, 1948), canonical: 1940, listening: fakePorts{1940: "a", 1949: "b", 1950: "c"},
			want: 1951, wantMsg: []string{"range (1939–1949) is full", "assigned 1951 outside the range"}},
		{name: "requested free", f: file(), canonical: 1940, requested: 5000, want: 5000},
		{name: "requested busy names the holder", f: file(), requested: 5000, listening: fakePorts{5000: "nginx (pid 9)"},
			wantErr: []string{"port 5000 is in use by nginx (pid 9)", "--port"}},
		{name: "requested registered", f: file(5000), requested: 5000, wantErr: []string{"registered to othera"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			probe := tc.listening
			if probe == nil {
				probe = fakePorts{}
			}
			got, msg, err := assignPort(tc.f, "me", tc.canonical, tc.requested, probe)
			if tc.wantErr != nil {
				wantErrContains(t, err, tc.wantErr...)
				if !errors.Is(err, ErrPortInUse) {
					t.Fatalf("err = %v, want ErrPortInUse", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("port = %d, want %d (msg %q)", got, tc.want, msg)
			}
			for _, w := range tc.wantMsg {
				if !strings.Contains(msg, w) {
					t.Fatalf("msg = %q, want it to contain %q", msg, w)
				}
			}
			if tc.wantMsg == nil && msg != "" {
				t.Fatalf("msg = %q, want none", msg)
			}
		})
	}
}

// TestSystemPortsNamesHolder checks the real probe against a real listener.
func TestSystemPortsNamesHolder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	var p SystemPorts
	if !p.Listening(port) {
		t.Fatalf("Listening(%d) = false with a listener open", port)
	}
	if h := p.Holder(port); !strings.Contains(h, "pid") {
		t.Fatalf("Holder(%d) = %q, want the test process named with its pid", port, h)
	}
}
