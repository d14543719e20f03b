package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/config"
)

var update = flag.Bool("update", false, "rewrite README.md's settings table from the verbs' --help")

// helpLine matches the env line config.Set.Usage prints under each flag.
var helpEnv = regexp.MustCompile(`^\s+\(env (\S+?)(?:, default "((?:[^"\\]|\\.)*)")?(?:; (.*))?\)$`)

// settingsTable renders every verb's settings from its --help output.
func settingsTable(t *testing.T) string {
	t.Helper()
	a := &app{env: config.MapEnv(nil)}
	var names []string
	for n := range a.verbs() {
		if n != "version" && n != "demo" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	shared := map[string]bool{}
	for _, n := range names {
		var out bytes.Buffer
		a := &app{env: config.MapEnv(nil), stdout: &out, stderr: &out}
		if code := a.main(context.Background(), []string{n, "--help"}); code != 0 {
			t.Errorf("pmguard %s --help exited %d:\n%s", n, code, out.String())
			continue
		}
		fmt.Fprintf(&b, "\n**`pmguard %s`**\n\n| env var | flag | default | meaning |\n|---|---|---|---|\n", n)
		lines := strings.Split(out.String(), "\n")
		for i := 0; i+2 < len(lines); i++ {
			flagName, ok := strings.CutPrefix(lines[i], "  --")
			if !ok {
				continue
			}
			m := helpEnv.FindStringSubmatch(lines[i+2])
			if m == nil {
				t.Fatalf("pmguard %s --help: cannot read %q", n, lines[i+2])
			}
			env, def, usage := m[1], m[2], strings.TrimSpace(lines[i+1])
			if !strings.HasPrefix(env, "PMGUARD_"+strings.ToUpper(n)+"_") {
				if shared[env] {
					continue
				}
				shared[env] = true
			}
			flagName, _, _ = strings.Cut(flagName, " ")
			if def != "" {
				def = "`" + def + "`"
			}
			fmt.Fprintf(&b, "| `%s` | `--%s` | %s | %s |\n", env, flagName, def, strings.ReplaceAll(usage, "|", "\\|"))
		}
	}
	return b.String()
}

// TestREADMESettings keeps README.md's table of env vars equal to what the
// verbs accept; run with -update after changing a setting.
func TestREADMESettings(t *testing.T) {
	const start, end = "<!-- env-table:start -->\n", "<!-- env-table:end -->"
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i, j := strings.Index(s, start), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("README.md lacks the env-table markers")
	}
	want := settingsTable(t)
	if got := s[i+len(start) : j]; got != want {
		if *update {
			s = s[:i+len(start)] + want + s[j:]
			if err := os.WriteFile("../../README.md", []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's settings table is out of date; run: go test ./cmd/pmguard -run TestREADMESettings -update")
	}
}
