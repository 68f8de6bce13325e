// Package secfile is the one way the hub opens, creates, reads and changes
// the mode or owner of files that hold secrets or decide what runs
// (operator.token, hub.db, services.json, a module's .env, log files).
//
// Every open uses O_NOFOLLOW, so a symlink planted where such a file should
// be is refused instead of followed, and the opened descriptor is checked
// with fstat to be a regular file before anything is read or written. Mode
// and owner changes go through the descriptor (fchmod/fchown), never the
// path, so the file that was checked is the file that changes.
//
// Why: in a config root shared with a group (0770), a group member can
// replace operator.token with a link to /etc/shadow; a hub running as root
// that chowns and chmods "operator.token" by path would then hand
// /etc/shadow to the group.
package secfile
