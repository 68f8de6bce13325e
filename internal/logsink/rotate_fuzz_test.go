package logsink

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// FuzzRotatingFile writes random bytes in random chunks (closing and
// reopening the file between some of them, as hub restarts do) and checks
// what RotatingFile promises for any input: every Write succeeds in full,
// the kept files read oldest to newest are exactly the newest bytes
// written, and a file exceeds MaxBytes only when it holds a single line.
func FuzzRotatingFile(f *testing.F) {
	f.Add([]byte("a\nbb\nccc\n"), uint8(3), uint8(2), []byte{2, 0x81, 4})
	f.Add([]byte("toolong\nx\n"), uint8(3), uint8(0), []byte{})
	f.Add([]byte("no newline at all"), uint8(4), uint8(3), []byte{0, 1, 0x80})
	f.Add([]byte("\n\n\n\n\n"), uint8(0), uint8(1), []byte{0})
	f.Add([]byte("\x00\xff\r\n\x1b[0m\n"), uint8(63), uint8(3), []byte{7})
	f.Fuzz(func(t *testing.T, in []byte, maxB, files uint8, sizes []byte) {
		max, n := int64(maxB%64)+1, int(files%4)+1
		path := filepath.Join(t.TempDir(), "x.log")
		r := NewRotatingFile(path, max, n)
		rest := in
		for i := 0; len(rest) > 0; i++ {
			size := len(rest)
			if len(sizes) > 0 {
				s := sizes[i%len(sizes)]
				if s&0x80 != 0 {
					if err := r.Close(); err != nil {
						t.Fatal(err)
					}
				}
				size = min(int(s&0x7f)+1, len(rest))
			}
			if w, err := r.Write(rest[:size]); w != size || err != nil {
				t.Fatalf("Write(%q) = %d, %v", rest[:size], w, err)
			}
			rest = rest[size:]
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}

		var kept []byte
		for i := n; i >= 0; i-- {
			name := path
			if i > 0 {
				name += "." + strconv.Itoa(i)
			}
			b, err := os.ReadFile(name)
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if i >= n {
				t.Errorf("%s exists, Files = %d", name, n)
			}
			if int64(len(b)) > max {
				if j := bytes.IndexByte(b, '\n'); j >= 0 && j != len(b)-1 {
					t.Errorf("%s has %d bytes (max %d) and more than one line: %q", name, len(b), max, b)
				}
			}
			kept = append(kept, b...)
		}
		if !bytes.HasSuffix(in, kept) {
			t.Errorf("files hold %q, not a suffix of the input %q", kept, in)
		}
		if len(in) > 0 && len(kept) == 0 {
			t.Errorf("nothing kept of %d bytes", len(in))
		}
	})
}
