package runbooks

import (
	"reflect"
	"testing"
)

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		in   string
		want []tmplPart
		err  string
	}{
		{"plain", []tmplPart{{text: "plain"}}, ""},
		{"${{ params.x }}", []tmplPart{{expr: "params.x", offset: 4, isExpr: true}}, ""},
		{"a ${{1}} b", []tmplPart{{text: "a "}, {expr: "1", offset: 5, isExpr: true}, {text: " b"}}, ""},
		{"${{ '}}' }}", []tmplPart{{expr: "'}}'", offset: 4, isExpr: true}}, ""},
		{"${{ {'a': {'b': 1}} }}", []tmplPart{{expr: "{'a': {'b': 1}}", offset: 4, isExpr: true}}, ""},
		{"$${{ not }} x", []tmplPart{{text: "${{ not }} x"}}, ""},
		{"${{ x", nil, "template at offset 0 is not closed with }}"},
		{"${{  }}", nil, "empty template ${{ }}"},
	}
	for _, tt := range tests {
		got, err := parseTemplate(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("parseTemplate(%q) err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseTemplate(%q) = %#v, %v", tt.in, got, err)
		}
	}
}
