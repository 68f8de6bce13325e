package supervisor

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as every child the tests need: when
// SUPERVISOR_TEST_CHILD names a mode, TestMain runs that mode instead of
// the tests. Knobs come from the environment (PORT, CODE, ...).
const childModeEnv = "SUPERVISOR_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	os.Exit(m.Run())
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func runChild(mode string) int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGUSR1)
	if g := os.Getenv("GREETING"); g != "" {
		fmt.Println(g)
	}
	switch mode {
	case "serve": // listen on PORT (after DELAY_MS), answer /health
		if d := envInt("DELAY_MS", 0); d > 0 {
			time.Sleep(time.Duration(d) * time.Millisecond) // the child is slow to bind, on purpose
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "listen:", err)
			return 3
		}
		fmt.Println("listening on", os.Getenv("PORT"))
		mux := http.NewServeMux()
		mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(envInt("HEALTH_STATUS", 200))
		})
		go http.Serve(ln, mux)
		return waitSignals(sigs)
	case "exit": // some output, a partial last line, then exit CODE
		fmt.Println("bye")
		fmt.Fprintln(os.Stderr, "err line")
		os.Stdout.WriteString("tail")
		return envInt("CODE", 1)
	case "sleep": // block until SIGTERM (or SIGUSR1: exit CODE)
		fmt.Println("sleeping")
		return waitSignals(sigs)
	case "grandchild": // fork a serving grandchild into our group, then sleep
		exe, _ := os.Executable()
		gc := exec.Command(exe)
		gc.Env = append(os.Environ(), childModeEnv+"=serve", "IGNORE_TERM="+os.Getenv("GC_IGNORE_TERM"), "GREETING=grandchild up")
		gc.Stdout, gc.Stderr = os.Stdout, os.Stderr
		if err := gc.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		fmt.Println("grandchild", gc.Process.Pid)
		return waitSignals(sigs)
	case "setsid": // double-fork a grandchild into a new session that ignores SIGTERM, then sleep
		exe, _ := os.Executable()
		gc := exec.Command(exe)
		gc.Env = append(os.Environ(), childModeEnv+"=sleep", "IGNORE_TERM=1", "GREETING=escapee up")
		gc.Stdout, gc.Stderr = os.Stdout, os.Stderr
		gc.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // leaves our process group and session
		if err := gc.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		fmt.Println("escapee", gc.Process.Pid)
		return waitSignals(sigs)
	case "termcount": // print each SIGTERM as "sigterm <pid> <n>", never exit on one (SIGUSR1: exit CODE); KIDS=1: first fork a group member and a setsid escapee doing the same
		if os.Getenv("KIDS") != "" {
			exe, _ := os.Executable()
			for _, kind := range []string{"member", "escapee"} {
				kid := exec.Command(exe)
				kid.Env = append(os.Environ(), childModeEnv+"=termcount", "KIDS=")
				kid.Stdout, kid.Stderr = os.Stdout, os.Stderr
				if kind == "escapee" {
					kid.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // leaves our process group, not our cgroup
				}
				if err := kid.Start(); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 3
				}
				fmt.Println(kind, kid.Process.Pid)
			}
		}
		fmt.Println("termcount up", os.Getpid())
		n := 0
		for sig := range sigs {
			if sig == syscall.SIGUSR1 {
				fmt.Println("got SIGUSR1")
				return envInt("CODE", 1)
			}
			n++
			fmt.Println("sigterm", os.Getpid(), n)
		}
		return 0
	case "lines": // COUNT lines of SIZE bytes as fast as possible, then "done"
		w := bufio.NewWriterSize(os.Stdout, 64<<10)
		line := strings.Repeat("x", envInt("SIZE", 100)-1) + "\n"
		for range envInt("COUNT", 1000) {
			w.WriteString(line)
		}
		w.WriteString("done\n")
		w.Flush()
		if os.Getenv("EXIT") != "" {
			return 0
		}
		return waitSignals(sigs)
	case "minihub": // a hub of its own: supervise a sleeper, print its pid, block
		sup := New(Options{})
		exe, _ := os.Executable()
		st, err := sup.Start(context.Background(), Spec{Short: "orphan", Argv: []string{exe},
			Env: append(os.Environ(), childModeEnv+"=sleep")})
		if err != nil {
			fmt.Println("error", err)
			return 3
		}
		fmt.Println("child", st.PID)
		select {}
	}
	fmt.Fprintln(os.Stderr, "unknown child mode", mode)
	return 2
}

// waitSignals exits 0 on SIGTERM (unless IGNORE_TERM is set) and CODE on SIGUSR1.
func waitSignals(sigs chan os.Signal) int {
	for sig := range sigs {
		if sig == syscall.SIGUSR1 {
			fmt.Println("got SIGUSR1")
			return envInt("CODE", 1)
		}
		if os.Getenv("IGNORE_TERM") != "" {
			fmt.Println("got SIGTERM (ignored)")
			continue
		}
		fmt.Println("got SIGTERM")
		return 0
	}
	return 0
}
