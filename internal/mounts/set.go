package mounts

import (
	"fmt"
	"strconv"
)

// Row is one registered module as the mount rules see it: a services.json
// row, or a module about to be registered.
type Row struct {
	// Name identifies the row (the services.json row name); two rows with
	// one name are a duplicate.
	Name string
	// Owner is the module's short name. Rows of one module (the vault's
	// instances, "/vault/default" and "/vault/work") are served by one
	// process, so they may nest under each other's mounts; rows of
	// different modules may not.
	Owner string
	// Paths are the row's mounts.
	Paths []string
	// Label names the row in messages, e.g. `services[2] ("echo")`; empty
	// means the quoted Name.
	Label string
}

func (r Row) label() string {
	if r.Label != "" {
		return r.Label
	}
	return strconv.Quote(r.Name)
}

// Refusal says why a row must not be routed.
type Refusal struct {
	// Index is the row's position in the slice given to CheckSet.
	Index int
	// Name is the refused row's name.
	Name string
	// Path is the offending mount, or "" for a duplicate name.
	Path string
	// Other is the index of the earlier row this one conflicts with, or -1
	// when the mount is malformed or reserved.
	Other int
	// OtherName and OtherPath are that row's name and conflicting mount.
	OtherName, OtherPath string
	// Err says what is wrong; it wraps ErrInvalid, ErrReserved, ErrOverlap
	// or ErrDuplicate.
	Err error
}

// Error returns the reason, naming both rows when two are involved.
func (r Refusal) Error() string { return r.Err.Error() }

// Unwrap returns Err.
func (r Refusal) Unwrap() error { return r.Err }

// CheckSet applies the rules to rows in registration order and returns the
// rows that must not be routed, in order; at most one Refusal per row. A
// row is refused as a whole when:
//   - its Name repeats an earlier row's (the supervisor runs one process
//     per module, so the later row would answer 502/503 forever);
//   - one of its paths fails CheckPath for its Owner;
//   - one of its paths overlaps a path of an earlier, accepted row of
//     another Owner. The first registered row wins; a refused row claims
//     nothing.
//
// Shared ("/.parachute") is skipped: it is never routed.
func CheckSet(rows []Row) []Refusal {
	var out []Refusal
	firstByName := map[string]int{}
	var accepted []int
	for i, row := range rows {
		ref, bad := checkRow(rows, i, firstByName, accepted)
		if _, dup := firstByName[row.Name]; !dup {
			firstByName[row.Name] = i
		}
		if bad {
			out = append(out, ref)
			continue
		}
		accepted = append(accepted, i)
	}
	return out
}

func checkRow(rows []Row, i int, firstByName map[string]int, accepted []int) (Refusal, bool) {
	row := rows[i]
	ref := Refusal{Index: i, Name: row.Name, Other: -1}
	if j, dup := firstByName[row.Name]; dup {
		ref.Other, ref.OtherName = j, rows[j].Name
		ref.Err = fmt.Errorf("%w: %s repeats the name of %s; only the first is started, so this row is not routed — remove one of them from services.json",
			ErrDuplicate, row.label(), rows[j].label())
		return ref, true
	}
	for _, p := range row.Paths {
		if err := CheckPath(row.Owner, p); err != nil {
			ref.Path, ref.Err = p, fmt.Errorf("%s: %w", row.label(), err)
			return ref, true
		}
	}
	for _, p := range row.Paths {
		if p == Shared {
			continue
		}
		for _, j := range accepted {
			other := rows[j]
			if other.Owner == row.Owner {
				continue
			}
			for _, q := range other.Paths {
				if q == Shared || !Overlap(p, q) {
					continue
				}
				ref.Path, ref.Other, ref.OtherName, ref.OtherPath = p, j, other.Name, q
				ref.Err = fmt.Errorf("%w: %s mount %q %s %q of %s, which was registered first (its requests, cookies and Authorization headers would reach the wrong module)",
					ErrOverlap, row.label(), p, relation(p, q), q, other.label())
				return ref, true
			}
		}
	}
	return ref, false
}

// relation words how p overlaps q.
func relation(p, q string) string {
	switch {
	case trim(p) == trim(q):
		return "is the same as"
	case len(trim(p)) > len(trim(q)):
		return "lies under"
	}
	return "contains"
}
