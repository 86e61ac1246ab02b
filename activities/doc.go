// Package activities holds the actions runbook steps run: one action per
// file, each with the spec (inputs and outputs) the compiler checks steps
// against, the struct its inputs decode into, and its code, registered with
// one line (register). Catalog and Env.Handlers derive from that registry;
// a handler is the only way to run an action, and it masks secrets in all
// the action returns.
package activities
