// Package manifest reads and writes the files that describe installed
// modules: the registry <root>/services.json, each module's static
// <installDir>/.parachute/module.json, and the per-module <root>/<short>/.env.
//
// The rules that differ from the reference hub on purpose:
//   - Reads never write. Load and LoadLenient report the rows they would
//     clean up (retired modules, short-name twins) as warnings; only Update
//     (and the helpers built on it) writes.
//   - Fields this version does not know survive a read→write round trip, on
//     every row and at the top level, so an older hub never deletes what a
//     newer module wrote.
//   - Writes are atomic (temp file, fsync, rename) and serialised across
//     processes with an flock on <path>.lock, so two CLI calls cannot lose
//     each other's rows.
//   - A malformed file is never overwritten: Update refuses to touch it.
package manifest
