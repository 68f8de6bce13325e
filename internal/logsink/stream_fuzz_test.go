package logsink

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/openparachute/parachute/internal/testenv"
)

// wantLines is the specification of Stream (see its doc comment), written
// independently of it: every prefixed line the bytes in must produce, in
// order, once the Stream is closed.
func wantLines(prefix string, in []byte) []string {
	var out []string
	lines := bytes.Split(in, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1] // in ended with "\n" (or was empty)
	}
	for _, l := range lines {
		for len(l) > MaxLine {
			cut := MaxLine
			for back := 0; back < utf8.UTFMax; back++ {
				if utf8.RuneStart(l[MaxLine-back]) {
					cut = MaxLine - back
					break
				}
			}
			out = append(out, prefix+string(l[:cut])+"\n")
			l = l[cut:]
		}
		out = append(out, prefix+string(l)+"\n")
	}
	return out
}

// fuzzInput builds the bytes fed to the Stream: head, then fill repeated to
// k×MaxLine+delta bytes (k in 0..3), then tail, so that the lengths where
// a line meets MaxLine are reached at every run, not only by luck.
func fuzzInput(head, fill []byte, k uint8, delta int16, tail []byte) []byte {
	if len(fill) == 0 {
		fill = []byte("x")
	}
	n := max(int(k%4)*MaxLine+int(delta), 0)
	var b bytes.Buffer
	b.Write(head)
	for b.Len() < len(head)+n {
		b.Write(fill[:min(len(fill), len(head)+n-b.Len())])
	}
	b.Write(tail)
	return b.Bytes()
}

// chunkings cuts in into Writes whose sizes come from sizes, two bytes
// each (1..65536, 0xffff meaning "all the rest"), used cyclically. No sizes
// means one Write of everything.
func chunkings(in, sizes []byte) [][]byte {
	if len(sizes) < 2 {
		return [][]byte{in}
	}
	var out [][]byte
	for i := 0; len(in) > 0; i += 2 {
		v := binary.LittleEndian.Uint16(sizes[i%(len(sizes)-1):])
		n := int(v) + 1
		if v == 0xffff || n > len(in) {
			n = len(in)
		}
		out = append(out, in[:n])
		in = in[n:]
	}
	return out
}

// FuzzStream feeds random bytes in random chunkings through a Stream into
// every destination (ring, follower, hub output, rotating file) and checks
// that each one got exactly the lines wantLines specifies: every byte, in
// order, cut only where the specification says. testdata/fuzz/FuzzStream
// holds the inputs that once panicked the hub (a partial line of k×MaxLine
// bytes) and lines of k×MaxLine±1 bytes; plain `go test` runs them.
func FuzzStream(f *testing.F) {
	le := func(sizes ...uint16) []byte {
		var b []byte
		for _, s := range sizes {
			b = binary.LittleEndian.AppendUint16(b, s)
		}
		return b
	}
	// The crash of issue 8: a partial line of exactly k×MaxLine bytes.
	f.Add([]byte{}, []byte("x"), uint8(1), int16(0), []byte{}, []byte{})
	f.Add([]byte{}, []byte("x"), uint8(2), int16(0), []byte("\n"), le(0xffff))
	f.Add([]byte("a\n"), []byte("y"), uint8(3), int16(0), []byte{}, le(4095))
	for _, d := range []int16{-1, 1} {
		f.Add([]byte{}, []byte("z"), uint8(1), d, []byte("\n"), le(MaxLine-1))
		f.Add([]byte{}, []byte("z"), uint8(2), d, []byte{}, le(0))
	}
	// A line of exactly MaxLine whose newline arrives in the next Write.
	f.Add([]byte{}, []byte("m"), uint8(1), int16(0), []byte("\nnext\n"), le(MaxLine-1))
	// Runes of 2, 3 and 4 bytes straddling the cut; invalid UTF-8; NUL,
	// CR, ANSI escapes.
	f.Add([]byte("a"), []byte("é"), uint8(1), int16(1), []byte("\n"), le(100, 7))
	f.Add([]byte("ab"), []byte("€"), uint8(2), int16(0), []byte{}, le(0x1000))
	f.Add([]byte("abc"), []byte("𝄞"), uint8(1), int16(3), []byte("\n"), le(1))
	f.Add([]byte{0xff, 0xfe}, []byte{0x80, 0xbf}, uint8(1), int16(2), []byte{0xf0, 0x9d}, le(3, 0xffff))
	f.Add([]byte("\x00\r\n"), []byte("\x1b[31mred\x1b[0m\r\x00"), uint8(2), int16(-7), []byte("\r"), le(9, 300, 2))
	f.Add([]byte("\n\n"), []byte("\n"), uint8(0), int16(5), []byte("\n"), le(0))

	f.Fuzz(func(t *testing.T, head, fill []byte, k uint8, delta int16, tail, sizes []byte) {
		in := fuzzInput(head, fill, k, delta, tail)
		want := wantLines("[m] ", in)

		out := &testenv.SyncBuffer{}
		logPath := filepath.Join(t.TempDir(), "m.log")
		s := New(Options{
			Short:       "m",
			Output:      NewOutput(out),
			File:        NewRotatingFile(logPath, 1<<30, 1),
			RingBytes:   1 << 30, // keep everything
			QueueBytes:  1 << 30, // drop nothing
			FollowLines: len(want) + 1,
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, follow := s.Follow(ctx, 0)
		st := s.NewStream()
		for _, c := range chunkings(in, sizes) {
			if n, err := st.Write(c); n != len(c) || err != nil {
				t.Fatalf("Write(%d bytes) = %d, %v", len(c), n, err)
			}
		}
		st.Close()

		if diff := cmp.Diff(want, s.Lines(0), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ring lines (-want +got):\n%s", trunc(diff))
		}
		closeSink(t, s)
		var followed []string
		for l := range follow {
			followed = append(followed, l)
		}
		if diff := cmp.Diff(want, followed, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("followed lines (-want +got):\n%s", trunc(diff))
		}
		joined := strings.Join(want, "")
		if got := out.String(); got != joined {
			t.Errorf("hub output differs: %d bytes, want %d", len(got), len(joined))
		}
		file, err := os.ReadFile(logPath)
		if err != nil && len(want) > 0 {
			t.Fatal(err)
		}
		if string(file) != joined {
			t.Errorf("log file differs: %d bytes, want %d", len(file), len(joined))
		}

		// The specification's own promises, checked on what came out.
		var bare []byte
		for _, l := range followed {
			piece := strings.TrimSuffix(strings.TrimPrefix(l, "[m] "), "\n")
			if len(piece) > MaxLine {
				t.Errorf("a piece of %d bytes, more than MaxLine", len(piece))
			}
			bare = append(bare, piece...)
		}
		if !bytes.Equal(bare, bytes.ReplaceAll(in, []byte("\n"), nil)) {
			t.Errorf("concatenated pieces are not the input without its newlines")
		}
		if utf8.Valid(in) {
			for _, l := range followed {
				if !utf8.ValidString(l) {
					t.Errorf("valid UTF-8 input cut inside a rune: line ends %q", l[max(len(l)-8, 0):])
				}
			}
		}
	})
}
