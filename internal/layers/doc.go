// Package layers holds no code: its test states which internal packages
// may import which (the data flows cli → hubclient|servicemgr → hub →
// supervisor → child, never upward), and fails when someone adds an import
// that breaks the layering.
package layers
