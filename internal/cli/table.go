package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// writeTable prints rows as left-aligned columns separated by two spaces,
// each as wide as its widest cell, with trailing spaces removed. notes[i]
// are continuation lines printed after row i.
func writeTable(w io.Writer, header []string, rows [][]string, notes [][]string) {
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = len([]rune(h))
	}
	for _, r := range rows {
		for i, c := range r {
			if n := len([]rune(c)); n > width[i] {
				width[i] = n
			}
		}
	}
	line := func(cells []string) string {
		var b strings.Builder
		for i, c := range cells {
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", width[i]-len([]rune(c))+2))
			}
		}
		return strings.TrimRight(b.String(), " ")
	}
	fmt.Fprintln(w, line(header))
	for i, r := range rows {
		fmt.Fprintln(w, line(r))
		if i < len(notes) {
			for _, n := range notes[i] {
				fmt.Fprintln(w, "  "+n)
			}
		}
	}
}

// humanDuration prints a compact uptime: 45s, 3m12s, 2h05m, 4d03h.
func humanDuration(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, (s%3600)/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, (s%86400)/3600)
}

// humanLatency prints milliseconds with sensible precision.
func humanLatency(ms float64) string {
	if ms < 10 {
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}
