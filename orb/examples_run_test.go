package orb_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/orb/orbtest"
)

// TestExampleCanariesAreSound runs the analysis step of every canary in the
// examples with the real binary, as a user copying the example gets it,
// with each source pointed at a closed loopback port: the parameters must
// be accepted (no exit 2), and pmguard must not warn at the start that
// the example's own settings cannot reach a verdict (a "canary: note:"
// that max_duration leaves healthy canaries undecided, or is too short
// for a check to fail a slow one).
func TestExampleCanariesAreSound(t *testing.T) {
	h := newHarness(t)
	if err := h.install(nil); err != nil {
		t.Fatal(err)
	}
	o := h.job.Orb
	closed := "http://127.0.0.1:1"
	names := make([]string, 0, len(o.Examples))
	for name := range o.Examples {
		names = append(names, name)
	}
	sort.Strings(names)
	checked := 0
	for _, name := range names {
		ex := o.Examples[name]
		for _, u := range uses(ex.Usage, orbAlias(ex.Usage)) {
			if u.kind != "command" || (u.name != "canary_check" && u.name != "canary_deploy") {
				continue
			}
			steps, err := orbtest.NewJob(t, o).Expand(u.name, u.args)
			if err != nil {
				t.Fatalf("%s %s: %v", name, u.where, err)
			}
			for _, s := range steps {
				run, _ := s["run"].(map[string]any)
				if cmd, _ := run["command"].(string); strings.TrimSpace(cmd) != "pmguard canary" {
					continue
				}
				env := map[string]any{}
				for k, v := range run["environment"].(map[string]any) {
					env[k] = orbtest.Text(v)
				}
				if env["PMGUARD_CANARY_CHECK_ONLY"] == "true" || env["PMGUARD_CANARY_PROMOTION"] != "" {
					continue // canary_deploy's check of the parameters, its record of the promotion
				}
				for _, k := range []string{"PMGUARD_CANARY_URL", "PMGUARD_CANARY_BASELINE_URL", "PMGUARD_CANARY_PROMETHEUS_URL", "PMGUARD_CANARY_DD_SITE"} {
					if env[k] != "" || (k == "PMGUARD_CANARY_DD_SITE" && env["PMGUARD_CANARY_SOURCE"] == "datadog") {
						env[k] = closed
					}
				}
				if env["PMGUARD_CANARY_SET_WEIGHT"] != "" {
					env["PMGUARD_CANARY_SET_WEIGHT"] = "true" // the user's traffic script
				}
				env["PMGUARD_CANARY_DEPLOY_MARKERS"] = "off"
				for _, k := range []string{"PROM_TOKEN", "DD_API_KEY", "DD_APP_KEY", "API_TOKEN"} {
					h.job.Env[k] = "test-secret"
				}
				checked++
				h.job.RunSteps(h.ctx, map[string]any{"run": map[string]any{
					"name": name + " " + u.where, "command": "pmguard canary", "environment": env, "when": "always",
				}})
				last := h.job.LastRun()
				if last == nil || last.Name != name+" "+u.where {
					t.Fatalf("%s %s: the analysis did not run", name, u.where)
				}
				if last.Exit == 2 {
					t.Errorf("%s %s: pmguard canary refuses the example's parameters:\n%s", name, u.where, last.Output)
				}
				for _, line := range strings.Split(last.Output, "\n") {
					if strings.HasPrefix(line, "canary: note:") {
						t.Errorf("%s %s: %s", name, u.where, line)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no example runs a canary analysis")
	}
}
