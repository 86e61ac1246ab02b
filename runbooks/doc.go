// Package runbooks reads runbook files: it parses the YAML keeping every
// value's position, lints a document completely (every problem at once, each
// with file:line:col, a field path and a stable Code), and compiles a checked
// document into a plan.Plan. It also renders what is generated from the
// format: the preview of a run, the Mermaid graph, the JSON Schema and the
// action reference.
package runbooks
