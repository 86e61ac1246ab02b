package main

import (
	"bytes"

	"gopkg.in/yaml.v3"
)

// inertExample returns a runbook's YAML with its spec.triggers and
// spec.schedules left out, each of their lines replaced by a comment so
// that line numbers stay those of the file. runbook dev registers examples
// so: a test alert or the clock never starts one (an example may restart a
// service). Applying the file itself registers it as written.
func inertExample(src []byte) ([]byte, bool, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, false, err
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return src, false, nil
	}
	var spec *yaml.Node
	top := root.Content[0].Content
	for i := 0; i+1 < len(top); i += 2 {
		if top[i].Value == "spec" && top[i+1].Kind == yaml.MappingNode {
			spec = top[i+1]
		}
	}
	if spec == nil {
		return src, false, nil
	}
	lines := bytes.SplitAfter(src, []byte("\n"))
	changed := false
	for i := 0; i+1 < len(spec.Content); i += 2 {
		key := spec.Content[i]
		if key.Value != "triggers" && key.Value != "schedules" {
			continue
		}
		end := len(lines) // the lines up to the next key of spec, or the end
		if i+2 < len(spec.Content) {
			end = spec.Content[i+2].Line - 1
		} else if next := nextTopKey(top, spec); next > 0 {
			end = next - 1
		}
		indent := bytes.Repeat([]byte(" "), key.Column-1)
		for l := key.Line - 1; l < end && l < len(lines); l++ {
			note := "# (left out by runbook dev; --live-examples keeps it)"
			if l > key.Line-1 {
				note = "#"
			}
			lines[l] = append(append(append([]byte{}, indent...), note...), '\n')
		}
		changed = true
	}
	if !changed {
		return src, false, nil
	}
	out := bytes.Join(lines, nil)
	if !bytes.HasSuffix(src, []byte("\n")) {
		out = bytes.TrimSuffix(out, []byte("\n"))
	}
	return out, true, nil
}

// nextTopKey is the line of the top-level key after spec, or 0.
func nextTopKey(top []*yaml.Node, spec *yaml.Node) int {
	for i := 1; i+1 < len(top); i += 2 {
		if top[i] == spec && i+1 < len(top) {
			return top[i+1].Line
		}
	}
	return 0
}
