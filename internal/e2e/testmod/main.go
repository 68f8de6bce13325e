// Command testmod is a small module the end-to-end tests and benchmarks run
// under the hub. Its first argument picks a behaviour:
//
//	serve           listen on $PORT, answer /health, log each request; exit 0 on SIGTERM
//	serve-health N  like serve, but /health answers HTTP status N (e.g. 401,
//	                as the vault does without a key)
//	crash [code]    print a line and exit with code (default 3) at once
//	ignore-term     like serve, but ignore SIGTERM (the hub must SIGKILL it)
//	fork-grandchild start `testmod serve` as a child in the same process
//	                group (it holds $PORT), then wait forever
//	setsid-grandchild [pidfile]
//	                start `testmod ignore-term` in a new session (it holds $PORT
//	                and leaves the process group), write its pid to pidfile,
//	                then wait forever: only a cgroup can stop it
//	spew            write numbered lines to stdout as fast as possible until killed
//	                (or until $SPEW_BYTES bytes, then print "done" and idle)
//	hostile         like serve, while writing hostile output (lines of k×64 KiB ± 1,
//	                long runs without a newline, invalid UTF-8, NUL, ANSI escapes,
//	                CR, runes split across writes) to stdout and stderr as fast as
//	                the pipes take it, forever; GET /<any>/stats reports the bytes
//	                written so far
package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testmod serve|serve-health|crash|ignore-term|fork-grandchild|setsid-grandchild|spew|hostile")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		serve(false, http.StatusOK)
	case "serve-health":
		code := 0
		if len(os.Args) > 2 {
			code, _ = strconv.Atoi(os.Args[2])
		}
		if code < 100 || code > 999 {
			fmt.Fprintln(os.Stderr, "usage: testmod serve-health <http status>")
			os.Exit(2)
		}
		serve(false, code)
	case "ignore-term":
		serve(true, http.StatusOK)
	case "crash":
		code := 3
		if len(os.Args) > 2 {
			code, _ = strconv.Atoi(os.Args[2])
		}
		fmt.Println("testmod: crashing on purpose with code", code)
		os.Exit(code)
	case "fork-grandchild":
		cmd := exec.Command(os.Args[0], "serve")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "testmod: fork:", err)
			os.Exit(1)
		}
		fmt.Println("testmod: started grandchild pid", cmd.Process.Pid)
		// The wrapper keeps SIGTERM's default action: a supervisor that only
		// signalled this pid would leave the grandchild holding $PORT.
		select {}
	case "setsid-grandchild":
		cmd := exec.Command(os.Args[0], "ignore-term")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "testmod: fork:", err)
			os.Exit(1)
		}
		fmt.Println("testmod: started setsid grandchild pid", cmd.Process.Pid)
		if len(os.Args) > 2 {
			if err := os.WriteFile(os.Args[2], []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "testmod:", err)
				os.Exit(1)
			}
		}
		select {}
	case "spew":
		spew()
	case "hostile":
		go flood(os.Stdout, 0)
		go flood(os.Stderr, 1)
		serve(false, http.StatusOK)
	default:
		fmt.Fprintln(os.Stderr, "testmod: unknown mode", os.Args[1])
		os.Exit(2)
	}
}

func serve(ignoreTerm bool, healthCode int) {
	port := os.Getenv("PORT")
	if port == "" {
		fmt.Fprintln(os.Stderr, "testmod: PORT is not set")
		os.Exit(2)
	}
	if ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	} else {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM)
		go func() {
			<-ch
			fmt.Println("testmod: got SIGTERM, exiting")
			os.Exit(0)
		}()
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("testmod: %s %s\n", r.Method, r.URL.Path)
		if msg := r.URL.Query().Get("log"); msg != "" {
			fmt.Println("testmod: log", msg)
		}
		if strings.HasSuffix(r.URL.Path, "/stats") {
			fmt.Fprintf(w, `{"hostileBytes":%d}`+"\n", hostileBytes.Load())
			return
		}
		if strings.HasSuffix(r.URL.Path, "/health") {
			if healthCode != http.StatusOK {
				http.Error(w, http.StatusText(healthCode), healthCode)
				return
			}
			fmt.Fprintln(w, `{"status":"ok"}`)
			return
		}
		fmt.Fprintf(w, "testmod on %s: %s\n", port, r.URL.Path)
	})
	fmt.Printf("testmod: listening on 127.0.0.1:%s (hub origin %s)\n", port, os.Getenv("PARACHUTE_HUB_ORIGIN"))
	fmt.Fprintln(os.Stderr, "testmod: a line on stderr")
	if err := http.ListenAndServe("127.0.0.1:"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, "testmod:", err)
		os.Exit(1)
	}
}

// spew writes 100-byte lines as fast as stdout takes them and, when it has
// written $SPEW_BYTES, reports on stderr how fast that went from its own
// side: the rate the reader let it write at.
func spew() {
	limit, _ := strconv.ParseInt(os.Getenv("SPEW_BYTES"), 10, 64)
	w := bufio.NewWriterSize(os.Stdout, 64*1024)
	line := []byte(strings.Repeat("x", 90))
	start := time.Now()
	var n int64
	for i := 0; limit == 0 || n < limit; i++ {
		k, _ := fmt.Fprintf(w, "%08d %s\n", i, line)
		n += int64(k)
	}
	w.Flush()
	d := time.Since(start)
	report := fmt.Sprintf("spew: wrote %d bytes in %d ns\n", n, d.Nanoseconds())
	fmt.Fprint(os.Stderr, report)
	if p := os.Getenv("SPEW_REPORT"); p != "" {
		_ = os.WriteFile(p, []byte(report), 0o644)
	}
	fmt.Println("done")
	select {}
}
