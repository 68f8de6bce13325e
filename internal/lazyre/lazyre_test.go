package lazyre

import (
	"strings"
	"sync"
	"testing"
)

var nameRE = &Regexp{Expr: `^[a-z][a-z0-9-]*$`}

func TestMatchString(t *testing.T) {
	for s, want := range map[string]bool{"vault": true, "a-1": true, "": false, "1a": false, "Vault": false} {
		if got := nameRE.MatchString(s); got != want {
			t.Errorf("MatchString(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	r := &Regexp{Expr: `^x+$`}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !r.MatchString("xxx") {
				t.Error("no match")
			}
		}()
	}
	wg.Wait()
}

func TestInvalidPatternPanicsOnFirstUse(t *testing.T) {
	r := &Regexp{Expr: `(`}
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), "(") {
			t.Fatalf("panic = %v, want regexp.MustCompile's, naming the pattern", p)
		}
	}()
	r.MatchString("x")
}
