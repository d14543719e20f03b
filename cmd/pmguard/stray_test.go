package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pmguard/pmguard/internal/exitcode"
)

// orbEnv is every env var the orb's commands and jobs set for the binary:
// their steps' environment maps, at any depth (when: steps included), and
// the variables their commands export to $BASH_ENV for later steps.
func orbEnv(t *testing.T) map[string]string {
	t.Helper()
	exported := regexp.MustCompile(`export (PMGUARD_\w+)=`)
	env := map[string]string{}
	var walk func(n any)
	walk = func(n any) {
		switch n := n.(type) {
		case map[string]any:
			for k, v := range n {
				if vars, ok := v.(map[string]any); ok && k == "environment" {
					for name := range vars {
						env[name] = "x"
					}
				}
				walk(v)
			}
		case []any:
			for _, v := range n {
				walk(v)
			}
		case string:
			for _, m := range exported.FindAllStringSubmatch(n, -1) {
				env[m[1]] = "x"
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "orb", "src", "*", "*.yml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var y any
		if err := yaml.Unmarshal(b, &y); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walk(y)
	}
	// The scripts the commands <<include(...)>>.
	scripts, _ := filepath.Glob(filepath.Join("..", "..", "orb", "src", "scripts", "*.sh"))
	for _, f := range scripts {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		walk(string(b))
	}
	return env
}

// TestNoOrbVariableIsStray: every verb, run with every variable any orb
// command or job sets, warns of none of them (the orb's own variables, the
// shared PMGUARD_EVENTS_FILE and the like, and each verb's settings as its
// commands spell them), while a mistyped setting is warned of by each.
func TestNoOrbVariableIsStray(t *testing.T) {
	env := orbEnv(t)
	for _, want := range []string{"PMGUARD_HEALTH_ENDPOINTS", "PMGUARD_CANARY_URL", "PMGUARD_NOTIFY_CHANNEL", "PMGUARD_EVENTS_FILE", "PMGUARD_JOB_STATUS",
		"PMGUARD_MIGRATIONS_REPO", "PMGUARD_ROLLBACK_VERSION", "PMGUARD_POSTMORTEM_INCIDENT_FILE", "PMGUARD_DORA_WINDOW", "PMGUARD_FOLLOWUPS_MODE"} {
		if env[want] == "" {
			t.Fatalf("the orb's environment lacks %s: %d variables found", want, len(env))
		}
	}
	for name := range (&app{}).verbs() {
		if name == "version" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			// An unknown flag stops every verb once its settings are
			// looked up, before any work.
			code, _, errOut := invoke(t, env, name, "--no-such-flag")
			if code != exitcode.BadInput || !strings.Contains(errOut, "unknown flag --no-such-flag") {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if strings.Contains(errOut, "is not a setting") {
				t.Errorf("pmguard %s warns of an orb variable:\n%s", name, errOut)
			}
			typo := "PMGUARD_" + strings.ToUpper(name) + "_EVENTS_FIEL"
			withTypo := map[string]string{typo: "x"}
			for k, v := range env {
				withTypo[k] = v
			}
			_, _, errOut = invoke(t, withTypo, name, "--no-such-flag")
			if !strings.Contains(errOut, "warning: "+typo+" is set but is not a setting of pmguard "+name) {
				t.Errorf("pmguard %s does not warn of %s:\n%s", name, typo, errOut)
			}
		})
	}
}
