package orb_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pmguard/pmguard/orb/orbtest"
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

// TestDocSnippetsBind reads every YAML block of README.md and docs/*.md as
// a user pasting it would: it must parse, and each use of the orb in it
// (alias/<command>, a workflow's alias/<job>, executor: alias/<name>) must
// name one that exists, with arguments that bind as CircleCI binds them.
func TestDocSnippetsBind(t *testing.T) {
	o := parsed(t, nil)
	checked := 0
	for where, doc := range docYAMLBlocks(t) {
		for _, u := range orbUses(doc) {
			checked++
			var d *orbtest.Definition
			switch {
			case u.kind == "executor":
				d = o.Executors[u.name]
			case o.Commands[u.name] != nil:
				d = o.Commands[u.name]
			case o.Jobs[u.name] != nil:
				d = o.Jobs[u.name]
				for _, k := range workflowJobKeys {
					delete(u.args, k)
				}
			}
			if d == nil {
				t.Errorf("%s: the orb has no %s %q", where, u.kind, u.name)
				continue
			}
			if _, err := d.Bind(u.args); err != nil {
				t.Errorf("%s: %v", where, err)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no use of the orb found in the docs")
	}
}

// docYAMLBlocks reads every YAML block of README.md and docs/*.md, by
// file:line; a block that is not YAML fails the test.
func docYAMLBlocks(t *testing.T) map[string]any {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root(t), "docs", "*.md"))
	files = append(files, filepath.Join(root(t), "README.md"))
	blockRe := regexp.MustCompile("(?ms)^```ya?ml\n(.*?)^```")
	out := map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root(t), f)
		for _, m := range blockRe.FindAllSubmatchIndex(b, -1) {
			where := fmt.Sprintf("%s:%d", rel, 1+bytes.Count(b[:m[0]], []byte("\n")))
			var doc any
			if err := yaml.Unmarshal(b[m[2]:m[3]], &doc); err != nil {
				t.Errorf("%s: not YAML: %v", where, err)
				continue
			}
			out[where] = doc
		}
	}
	return out
}

// workflowJobKeys are what a workflow's job entry takes besides the job's
// own parameters.
var workflowJobKeys = []string{"name", "requires", "context", "filters", "matrix", "type", "pre-steps", "post-steps", "serial-group", "override-with"}

// orbUses finds the orb's commands, jobs and executors anywhere in a config
// or a fragment of one, under every alias its orbs: gives it ("pmguard"
// when it has none).
func orbUses(doc any) []use {
	aliases := map[string]bool{}
	if m, ok := doc.(map[string]any); ok {
		orbs, _ := m["orbs"].(map[string]any)
		for a, ref := range orbs {
			if s, _ := ref.(string); strings.HasPrefix(s, "pmguard/pmguard@") {
				aliases[a] = true
			}
		}
	}
	if len(aliases) == 0 {
		aliases["pmguard"] = true
	}
	name := func(s string) (string, bool) {
		alias, n, ok := strings.Cut(s, "/")
		return n, ok && aliases[alias]
	}
	var out []use
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case string:
			if n, ok := name(x); ok && (key == "executor" || key == "") {
				kind := "command"
				if key == "executor" {
					kind = "executor"
				}
				out = append(out, use{kind, n, key, nil})
			}
		case []any:
			for _, e := range x {
				walk(e, "")
			}
		case map[string]any:
			for k, e := range x {
				if n, ok := name(k); ok {
					args, _ := e.(map[string]any)
					out = append(out, use{"command or job", n, k, args})
					continue
				}
				if k == "executor" {
					if em, ok := e.(map[string]any); ok {
						if n, ok := name(fmt.Sprint(em["name"])); ok {
							args := map[string]any{}
							for ak, av := range em {
								if ak != "name" {
									args[ak] = av
								}
							}
							out = append(out, use{"executor", n, k, args})
						}
						continue
					}
				}
				walk(e, k)
			}
		}
	}
	walk(doc, "")
	return out
}
