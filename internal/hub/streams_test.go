package hub

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/supervisor"
)

// streamLimits are request deadlines far shorter than the pauses the
// streaming tests make, with a per-write idle bound longer than them.
var streamLimits = Limits{ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
	StreamWriteIdle: 10 * time.Second}

// outlive waits past every request deadline of streamLimits: the elapsed
// time is what these tests are about.
func outlive() { <-time.After(5 * streamLimits.ReadTimeout) }

// readLine reads one line of a streamed response or fails.
func readLine(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	l, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("stream ended: %v (got %q)", err, l)
	}
	return strings.TrimSpace(l)
}

// TestProxyStreamOutlivesRequestDeadlines: a module's streamed answer
// (server-sent events, a long poll) is not cut by ReadTimeout or
// WriteTimeout; only a write that stalls for StreamWriteIdle would be.
func TestProxyStreamOutlivesRequestDeadlines(t *testing.T) {
	h := newTestHub(t, streamLimits, 64)
	next := make(chan struct{})
	module := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte("data: first\n"))
		http.NewResponseController(w).Flush()
		select {
		case <-next:
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write([]byte("data: second\n"))
	}))
	t.Cleanup(module.Close)
	h.addModule("mod", module.Listener.Addr().(*net.TCPAddr).Port)

	resp, err := http.Get(h.url("/mod/events"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if l := readLine(t, br); l != "data: first" {
		t.Fatalf("first line %q", l)
	}
	outlive()
	close(next)
	if l := readLine(t, br); l != "data: second" {
		t.Fatalf("second line %q", l)
	}
}

// TestFollowLogsOutlivesRequestDeadlines: `parachute logs -f` keeps
// streaming a real module's output past ReadTimeout and WriteTimeout.
func TestFollowLogsOutlivesRequestDeadlines(t *testing.T) {
	h := newTestHub(t, streamLimits, 64)
	fifo := filepath.Join(t.TempDir(), "go")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// The module prints a line, blocks until the test opens the fifo,
	// prints another, then idles until it is stopped.
	_, err := h.sup.Start(context.Background(), supervisor.Spec{Short: "mod",
		Argv: []string{"/bin/sh", "-c", `echo first; read x < "$0"; echo second; exec sleep 600`, fifo}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, h.url("/api/modules/mod/logs?follow=1&lines=10"), nil)
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("follow: %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	if l := readLine(t, br); !strings.HasSuffix(l, "first") {
		t.Fatalf("first line %q", l)
	}
	outlive()
	if err := os.WriteFile(fifo, []byte("go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if l := readLine(t, br); !strings.HasSuffix(l, "second") {
		t.Fatalf("second line %q", l)
	}
}

// TestProxyUploadOutlivesReadTimeout: an upload to a module that keeps up
// the minimum body rate may take longer than ReadTimeout.
func TestProxyUploadOutlivesReadTimeout(t *testing.T) {
	h := newTestHub(t, Limits{ReadTimeout: 200 * time.Millisecond, ProxyBodyGrace: time.Second, ProxyMinBodyRate: 256}, 64)
	module := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d", n)
	}))
	t.Cleanup(module.Close)
	h.addModule("mod", module.Listener.Addr().(*net.TCPAddr).Port)

	const chunks, size = 16, 100 // 1600 bytes over ~0.8 s: 2000 bytes/s
	pr, pw := io.Pipe()
	go func() {
		tick := time.NewTicker(50 * time.Millisecond) // the upload's pace
		defer tick.Stop()
		for range chunks {
			<-tick.C
			if _, err := pw.Write(bytes.Repeat([]byte("u"), size)); err != nil {
				return
			}
		}
		pw.Close()
	}()
	t.Cleanup(func() { pr.Close() })
	req, _ := http.NewRequest(http.MethodPost, h.url("/mod/upload"), pr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != strconv.Itoa(chunks*size) {
		t.Fatalf("upload answered %d %q, want 200 %d", resp.StatusCode, b, chunks*size)
	}
}
