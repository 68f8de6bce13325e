package bench

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy overhead, each figure beside the same request sent straight to the
// module in the same run: the latency of one small GET (p50, p90, p99) and
// the requests per second on loopback with a few concurrent clients. The
// module is testmod serve, mounted at /m00; both paths use keep-alive
// clients so neither pays a TCP handshake per request. The p99 of 3000
// samples is the 30th slowest: read it as a tail, not a bound.
//
// Run: go test -run '^$' -bench Proxy -benchtime 1x ./bench/

const (
	proxySamples = 3000                    // sequential request pairs for the latency figures
	rpsWindow    = 1500 * time.Millisecond // per path, for the throughput figures
	rpsClients   = 4
)

func BenchmarkProxy(b *testing.B) {
	build(b)
	root, ports := home(b, 1, []string{"serve"}, nil)
	h, _ := startHub(b, root, freePort(b), io.Discard)
	defer h.stop()
	waitHTTP(b, h.port, "/m00/health") // the module is up and routed
	direct := "http://127.0.0.1:" + strconv.Itoa(ports[0]) + "/m00/x"
	proxied := "http://127.0.0.1:" + strconv.Itoa(h.port) + "/m00/x"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: rpsClients}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()

	get := func(url string) time.Duration {
		start := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("GET %s: %d", url, resp.StatusCode)
		}
		return time.Since(start)
	}
	for range 200 { // warm both paths (connections, the route table)
		get(direct)
		get(proxied)
	}
	b.ResetTimer()
	var d, p []time.Duration
	for i := 0; i < proxySamples; i++ {
		// Interleaved, so drift in machine load hits both columns alike.
		d = append(d, get(direct))
		p = append(p, get(proxied))
	}
	rpsDirect, rpsProxy := rps(b, client, direct), rps(b, client, proxied)
	b.StopTimer()

	pd, pp := pct(d, 50), pct(p, 50)
	b.ReportMetric(us(pd), "direct-p50-µs")
	b.ReportMetric(us(pp), "proxy-p50-µs")
	b.ReportMetric(us(pp-pd), "overhead-p50-µs")
	b.ReportMetric(us(pct(p, 90)-pct(d, 90)), "overhead-p90-µs")
	b.ReportMetric(us(pct(p, 99)-pct(d, 99)), "overhead-p99-µs")
	b.ReportMetric(rpsDirect, "direct-req/s")
	b.ReportMetric(rpsProxy, "proxy-req/s")
	b.ReportMetric(rpsProxy/rpsDirect, "proxy/direct")
}

// rps runs rpsClients clients against url for rpsWindow and returns the
// requests per second they completed.
func rps(b *testing.B, client *http.Client, url string) float64 {
	var n atomic.Int64
	stop := time.Now().Add(rpsWindow)
	var wg sync.WaitGroup
	for range rpsClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				resp, err := client.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / rpsWindow.Seconds()
}

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)*p/100]
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
