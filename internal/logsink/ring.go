package logsink

// ring keeps the newest lines of a module's output within a byte budget.
// Whole lines are dropped from the oldest end; a single line larger than the
// budget is kept on its own, so the newest line is always there. Lines are
// stored as substrings of the batch string they arrived in: a ring that holds
// a contiguous suffix of the output pins at most its budget plus two batches.
//
// ring is not safe for concurrent use; Sink.mu guards it.
type ring struct {
	max   int
	lines []string // lines[head:] are live, oldest first
	head  int
	bytes int
}

func (r *ring) push(line string) {
	r.lines = append(r.lines, line)
	r.bytes += len(line)
	for r.bytes > r.max && len(r.lines)-r.head > 1 {
		r.bytes -= len(r.lines[r.head])
		r.lines[r.head] = "" // release the batch it points into
		r.head++
	}
	// Compact once the dead prefix dominates, so the slice does not grow
	// without bound while the live window slides forward.
	if r.head > 64 && r.head*2 > len(r.lines) {
		n := copy(r.lines, r.lines[r.head:])
		clear(r.lines[n:])
		r.lines = r.lines[:n]
		r.head = 0
	}
}

// last returns copies of the newest n lines, oldest first; n < 0 means all.
func (r *ring) last(n int) []string {
	live := r.lines[r.head:]
	if n >= 0 && n < len(live) {
		live = live[len(live)-n:]
	}
	out := make([]string, len(live))
	copy(out, live)
	return out
}

func (r *ring) reset() {
	clear(r.lines)
	r.lines = r.lines[:0]
	r.head = 0
	r.bytes = 0
}
