package bench

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

// Bearer verification on the hub API, through a real `parachute serve`
// over loopback with a keep-alive client, two ways, each beside an
// unauthenticated request in the same run:
//   - GET /api/hub with the operator token against GET /health: /api/hub
//     reads nothing from disk or hub.db itself (a small JSON document
//     like /health's), so the difference is the bearer's cost (token
//     parse, key lookup, signature, revocation) plus the API's Host and
//     Origin guards;
//   - GET /api/me with and without the operator token: the same route
//     and guards, so the difference is the bearer plus the subject's
//     name lookup /api/me does for a bearer.
//
// Requests are interleaved so drift in machine load hits every column
// alike.
//
// Run: go test -run '^$' -bench Bearer -benchtime 1x ./bench/
const bearerSamples = 3000

func BenchmarkBearer(b *testing.B) {
	build(b)
	root, _ := home(b, 0, nil, nil)
	h, _ := startHub(b, root, freePort(b), io.Discard)
	defer h.stop()
	tok := token(b, h)
	base := "http://127.0.0.1:" + strconv.Itoa(h.port)
	client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	get := func(path, bearer string) time.Duration {
		req, _ := http.NewRequest("GET", base+path, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return time.Since(start)
	}
	for range 200 { // warm the connection and the hub's caches
		get("/health", "")
		get("/api/hub", tok)
		get("/api/me", "")
		get("/api/me", tok)
	}
	b.ResetTimer()
	var health, hub, anon, me []time.Duration
	for i := 0; i < bearerSamples; i++ {
		health = append(health, get("/health", ""))
		hub = append(hub, get("/api/hub", tok))
		anon = append(anon, get("/api/me", ""))
		me = append(me, get("/api/me", tok))
	}
	b.StopTimer()
	b.ReportMetric(us(pct(health, 50)), "health-p50-µs")
	b.ReportMetric(us(pct(hub, 50)-pct(health, 50)), "hub-bearer-cost-p50-µs")
	b.ReportMetric(us(pct(hub, 90)-pct(health, 90)), "hub-bearer-cost-p90-µs")
	b.ReportMetric(us(pct(anon, 50)), "me-anon-p50-µs")
	b.ReportMetric(us(pct(me, 50)-pct(anon, 50)), "me-bearer-cost-p50-µs")
	b.ReportMetric(us(pct(me, 90)-pct(anon, 90)), "me-bearer-cost-p90-µs")
}

// BenchmarkMintRSS: the hub's memory while tokens are minted through
// POST /api/auth/mint-token with the operator token: VmRSS and its private
// part (RssAnon) before, after 1 000 and after 10 000 mints, beside the
// size of hub.db (with its WAL) at the same points. Every mint writes a
// registry row, so the database grows; the hub's memory should not.
//
// Run: go test -run '^$' -bench MintRSS -benchtime 1x ./bench/
func BenchmarkMintRSS(b *testing.B) {
	build(b)
	root, _ := home(b, 0, nil, nil)
	h, _ := startHub(b, root, freePort(b), io.Discard)
	defer h.stop()
	tok := token(b, h)
	url := "http://127.0.0.1:" + strconv.Itoa(h.port) + "/api/auth/mint-token"
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	body := []byte(`{"scope":"vault:default:read"}`)
	mint := func() {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("mint-token: %d", resp.StatusCode)
		}
	}
	pid := h.cmd.Process.Pid
	dbKB := func() float64 {
		var n int64
		for _, suffix := range []string{"", "-wal"} {
			if fi, err := os.Stat(root + "/hub.db" + suffix); err == nil {
				n += fi.Size()
			}
		}
		return float64(n) / 1024
	}
	mint() // the first request opens what every later one reuses
	report := func(label string) {
		b.ReportMetric(float64(rssKB(b, pid))/1024, label+"-RSS-MB")
		b.ReportMetric(float64(anonKB(b, pid))/1024, label+"-private-MB")
		b.ReportMetric(dbKB()/1024, label+"-hubdb-MB")
	}
	// One pass whatever b.N is (the README runs every benchmark with
	// -benchtime 20x): the figures are the memory at fixed token counts.
	b.ResetTimer()
	report("0k")
	start := time.Now()
	for range 1000 {
		mint()
	}
	report("1k")
	for range 9000 {
		mint()
	}
	b.ReportMetric(10000/time.Since(start).Seconds(), "mints/s")
	report("10k")
	for range 10000 {
		mint()
	}
	report("20k")
}
