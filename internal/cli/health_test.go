package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHealth runs `parachute health` against a real HTTP server: exit 0
// only for a 200 whose body says "ok", 1 for anything else, 2 for bad use.
func TestHealth(t *testing.T) {
	serve := func(code int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/health" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(code)
			fmt.Fprint(w, body)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ok := `{"status":"ok","service":"parachute-hub","version":"1.2.3"}`
	// A port nothing listens on: bound then closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	cases := []struct {
		name     string
		url      string // PARACHUTE_HUB_URL
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{name: "healthy", url: serve(200, ok), wantCode: ExitOK, wantOut: "parachute-hub 1.2.3: ok\n"},
		{name: "not ok", url: serve(200, `{"status":"starting"}`), wantCode: ExitFail, wantErr: `status "starting"`},
		{name: "500", url: serve(500, ok), wantCode: ExitFail, wantErr: "500"},
		{name: "not json", url: serve(200, "<html>"), wantCode: ExitFail, wantErr: "not the hub's /health"},
		{name: "nothing listening", args: []string{"--port", fmt.Sprint(dead)}, wantCode: ExitFail, wantErr: "the hub is not running"},
		{name: "argument", args: []string{"extra"}, wantCode: ExitUsage, wantErr: "takes no arguments"},
		{name: "bad timeout", args: []string{"--timeout", "0s"}, wantCode: ExitUsage, wantErr: "--timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("PARACHUTE_HOME", t.TempDir())
			t.Setenv("PARACHUTE_HUB_URL", c.url)
			var out, errb bytes.Buffer
			code := Main(context.Background(), append([]string{"health"}, c.args...), &out, &errb)
			if code != c.wantCode || (c.wantOut != "" && out.String() != c.wantOut) || !strings.Contains(errb.String(), c.wantErr) {
				t.Errorf("code %d, stdout %q, stderr %q; want %d, %q, stderr containing %q",
					code, out.String(), errb.String(), c.wantCode, c.wantOut, c.wantErr)
			}
		})
	}
}

// TestHealthHelp: the verb documents itself.
func TestHealthHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"health", "--help"}, &out, &errb); code != ExitOK ||
		!strings.Contains(out.String(), "--timeout") {
		t.Errorf("health --help: code %d\n%s%s", code, out.String(), errb.String())
	}
}
