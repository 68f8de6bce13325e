package supervisor

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestChildDiesWithSIGKILLedHub runs a hub of its own, SIGKILLs it (no
// chance to stop anything) and expects its module to die with it.
func TestChildDiesWithSIGKILLedHub(t *testing.T) {
	exe, _ := os.Executable()
	hub := exec.Command(exe)
	hub.Env = append(os.Environ(), childModeEnv+"=minihub", "GORACE=atexit_sleep_ms=0")
	out, err := hub.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "child ") {
		hub.Process.Kill()
		hub.Wait()
		t.Fatalf("minihub said %q, %v", line, err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "child ")))
	hub.Process.Signal(syscall.SIGKILL)
	hub.Wait()
	waitFor(t, 10*time.Second, "the module to die with its hub", func() bool {
		st, err := readProc(child)
		return errors.Is(err, errNoProcess) || st.Zombie
	})
	assertGroupGone(t, child)
}

// TestSpawnSurvivesThreadExit shows why children are forked from the locked
// spawner thread: a child forked directly from a thread that later exits is
// SIGKILLed by Pdeathsig (the control), one started through the supervisor
// from the same kind of thread is not.
func TestSpawnSurvivesThreadExit(t *testing.T) {
	h := newHarness(t, Options{})
	exe, _ := os.Executable()

	// onThreadThatExits runs f on a fresh OS thread that is destroyed when
	// f returns (a goroutine that exits while locked takes its thread along)
	// and returns once that thread is gone.
	onThreadThatExits := func(f func()) {
		for {
			tidc := make(chan int, 1)
			run := make(chan bool)
			ran := make(chan struct{})
			go func() {
				runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
				tidc <- unix.Gettid()
				if <-run {
					f()
					close(ran)
				}
			}()
			tid := <-tidc
			// The main thread is never destroyed (the runtime parks it
			// instead), so try again until we are on another one.
			if tid == os.Getpid() {
				run <- false
				continue
			}
			run <- true
			<-ran
			waitFor(t, 10*time.Second, "the locked thread to exit", func() bool {
				_, err := os.Stat("/proc/self/task/" + strconv.Itoa(tid))
				return os.IsNotExist(err)
			})
			return
		}
	}

	t.Run("control: direct fork dies with its thread", func(t *testing.T) {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), childModeEnv+"=sleep", "GORACE=atexit_sleep_ms=0")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		onThreadThatExits(func() {
			if err := cmd.Start(); err != nil {
				t.Error(err)
			}
		})
		if cmd.Process == nil {
			return
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("control child ended with %v; want SIGKILL from Pdeathsig", err)
		}
	})

	t.Run("supervisor: spawner thread keeps the child", func(t *testing.T) {
		var st State
		onThreadThatExits(func() {
			var err error
			if st, err = h.sup.Start(context.Background(), h.spec("vault", "sleep")); err != nil {
				t.Error(err)
			}
		})
		h.waitLog("vault", "sleeping")
		// Alive enough to handle SIGTERM itself and exit 0.
		got, _, err := h.sup.Stop(context.Background(), "vault")
		if err != nil || got.LastExitCode == nil || *got.LastExitCode != 0 || len(h.spawned()) != 1 {
			t.Errorf("child %d after its starter's thread exited: %+v, %v; want a clean SIGTERM exit, no respawn", st.PID, got, err)
		}
	})
}
