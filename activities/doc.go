// Package activities holds the actions runbook steps run: one action per
// file, each with the spec (inputs and outputs) the compiler checks steps
// against. Catalog returns them all.
package activities
