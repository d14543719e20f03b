package orb_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsTableEveryParameter keeps docs/orb.md's parameter tables of
// install and health_check complete: each parameter of the command is in a
// row of its section's table.
func TestDocsTableEveryParameter(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), "docs", "orb.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	o := parsed(t, nil)
	for _, name := range []string{"install", "health_check"} {
		start := strings.Index(doc, "\n## `"+name+"`\n")
		if start < 0 {
			t.Errorf("docs/orb.md has no section ## `%s`", name)
			continue
		}
		section := doc[start+1:]
		if end := strings.Index(section[3:], "\n## "); end >= 0 {
			section = section[:end+3]
		}
		var rows strings.Builder
		for _, line := range strings.Split(section, "\n") {
			if strings.HasPrefix(line, "| `") {
				cell, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " |")
				rows.WriteString(cell + "\n")
			}
		}
		for _, p := range o.Commands[name].ParameterNames() {
			if !regexp.MustCompile("`" + regexp.QuoteMeta(p) + "`").MatchString(rows.String()) {
				t.Errorf("docs/orb.md, %s: parameter %s is not in the table", name, p)
			}
		}
	}
}
