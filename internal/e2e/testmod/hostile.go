package main

import (
	"bytes"
	"os"
	"sync/atomic"
)

// hostileBytes counts what flood has written, for GET …/stats.
var hostileBytes atomic.Int64

// hostileChunks is one round of flood's output, each element one write.
// Together they hit every length where a line meets the hub's 64 KiB line
// limit (k×64 KiB and one either side, with and without the newline, so a
// partial line of exactly k×64 KiB sits in the hub's buffer) and the bytes
// a log pipeline must pass through untouched: NUL, CR, ANSI escapes,
// invalid UTF-8 and a 4-byte rune split between two writes.
func hostileChunks(seed byte) [][]byte {
	const maxLine = 64 << 10
	junk := []byte("\x00\r\x1b[2J\x1b[31mred\x1b[0m\xff\xfe\xc3(\xe2\x82\xf0\x9d\x84\x9e\x80\x80 ")
	fill := func(n int) []byte {
		b := bytes.Repeat([]byte{'a' + seed}, n)
		for i := 0; i+len(junk) < n; i += 4093 { // sprinkle junk, off the 64 KiB grid
			copy(b[i:], junk)
		}
		return b
	}
	var out [][]byte
	for k := 1; k <= 3; k++ {
		for _, d := range []int{-1, 0, 1} {
			n := k*maxLine + d
			out = append(out, append(fill(n), '\n')) // a whole long line
			out = append(out, fill(n))               // the same, its newline much later
		}
	}
	out = append(out,
		[]byte("\n"),
		[]byte("\xf0\x9f"), []byte("\x98\x80 split rune\n"),
		[]byte("\r\r\r\x00\x00\x1b]0;title\x07\x1b[?1049h"),
		[]byte("no newline for a while "),
		bytes.Repeat([]byte{0xff}, maxLine), // invalid UTF-8, exactly 64 KiB
		[]byte{0x80},
		[]byte("\n"),
	)
	return out
}

// flood writes hostileChunks to f, round after round, until a write fails
// (the reader is gone) or the process exits.
func flood(f *os.File, seed byte) {
	chunks := hostileChunks(seed)
	for {
		for _, c := range chunks {
			n, err := f.Write(c)
			hostileBytes.Add(int64(n))
			if err != nil {
				return
			}
		}
	}
}
