package orb_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"gopkg.in/yaml.v3"
)

// commandParams reads the parameters of the orb command in src/commands.
func commandParams(t *testing.T, name string) map[string]map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("src", "commands", name+".yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cmd struct {
		Parameters map[string]map[string]any `yaml:"parameters"`
	}
	if err := yaml.Unmarshal(b, &cmd); err != nil {
		t.Fatalf("%s.yml: %v", name, err)
	}
	if len(cmd.Parameters) == 0 {
		t.Fatalf("%s.yml declares no parameters", name)
	}
	return cmd.Parameters
}

// canaryDeployExceptions are the analysis parameters canary_deploy declares
// differently from canary_check on purpose, and which fields may differ.
// Empty: every analysis parameter is declared identically.
var canaryDeployExceptions = map[string][]string{
	// hold needs the promotion in a later job behind an approval, which
	// canary_deploy's deploy_full is not.
	"on_inconclusive": {"enum", "description"},
}

// canaryDeploySets are canary_check's parameters canary_deploy does not
// declare: it passes canary_check a value of its own.
var canaryDeploySets = map[string]string{
	// The release's SUCCESS comes after deploy_full, from canary_deploy's
	// own steps.
	"deploy_marker_success": "promotion",
}

// TestCanaryDeployDeclaresCanaryCheckParameters: canary_deploy repeats the
// analysis parameters of canary_check by hand (an orb command cannot
// inherit another's); one that is missing, or differs in type, default,
// enum or description, is a parameter users of one command cannot rely on
// in the other.
func TestCanaryDeployDeclaresCanaryCheckParameters(t *testing.T) {
	check, deploy := commandParams(t, "canary_check"), commandParams(t, "canary_deploy")
	names := make([]string, 0, len(check))
	for name := range check {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want := check[name]
		got, ok := deploy[name]
		if _, set := canaryDeploySets[name]; set {
			if ok {
				t.Errorf("canary_deploy declares %s, which it sets for canary_check itself", name)
			}
			continue
		}
		if !ok {
			t.Errorf("canary_deploy lacks canary_check's parameter %s", name)
			continue
		}
		allowed := map[string]bool{}
		for _, f := range canaryDeployExceptions[name] {
			allowed[f] = true
		}
		for _, f := range fieldNames(want, got) {
			if !allowed[f] && !reflect.DeepEqual(want[f], got[f]) {
				t.Errorf("parameter %s: canary_deploy's %s is %s, canary_check's %s", name, f, show(got[f]), show(want[f]))
			}
		}
	}
}

func fieldNames(a, b map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

func show(v any) string {
	if v == nil {
		return "not set"
	}
	return fmt.Sprintf("%q", fmt.Sprint(v))
}

// TestCanaryDeploySetsWhatItDoesNotDeclare: the parameters canary_deploy
// sets for canary_check get the value it means them to have.
func TestCanaryDeploySetsWhatItDoesNotDeclare(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("src", "commands", "canary_deploy.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cmd struct {
		Steps []map[string]any `yaml:"steps"`
	}
	if err := yaml.Unmarshal(b, &cmd); err != nil {
		t.Fatal(err)
	}
	var args map[string]any
	for _, s := range cmd.Steps {
		if a, ok := s["canary_check"].(map[string]any); ok {
			args = a
		}
	}
	if args == nil {
		t.Fatal("canary_deploy does not call canary_check")
	}
	for name, want := range canaryDeploySets {
		if got := fmt.Sprint(args[name]); got != want {
			t.Errorf("canary_deploy passes canary_check %s: %q, want %q", name, got, want)
		}
	}
}

// runEnv is the environment of the run step called name in the orb
// command's steps, as written (parameters unexpanded).
func runEnv(t *testing.T, command, name string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("src", "commands", command+".yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cmd struct {
		Steps []map[string]any `yaml:"steps"`
	}
	if err := yaml.Unmarshal(b, &cmd); err != nil {
		t.Fatal(err)
	}
	for _, s := range cmd.Steps {
		run, ok := s["run"].(map[string]any)
		if !ok || run["name"] != name {
			continue
		}
		env := map[string]string{}
		for k, v := range run["environment"].(map[string]any) {
			env[k] = fmt.Sprint(v)
		}
		return env
	}
	t.Fatalf("%s has no run step %q", command, name)
	return nil
}

// TestCanaryDeployChecksWhatItJudges: canary_deploy's check before
// deploy_canary passes the binary the environment canary_check's analysis
// step will, so what is checked is what is judged; only the check's own
// switch, and the marker setting canary_deploy sets for canary_check, differ.
func TestCanaryDeployChecksWhatItJudges(t *testing.T) {
	judge := runEnv(t, "canary_check", "Judge the canary")
	check := runEnv(t, "canary_deploy", "Check the canary's parameters")
	differ := map[string]string{
		"PMGUARD_CANARY_CHECK_ONLY": "true",
		// What canary_deploy passes canary_check for deploy_marker_success.
		"PMGUARD_CANARY_DEPLOY_MARKER_SUCCESS": canaryDeploySets["deploy_marker_success"],
	}
	for k, v := range check {
		if want, ok := differ[k]; ok {
			if v != want {
				t.Errorf("check step: %s is %q, want %q", k, v, want)
			}
			continue
		}
		if judge[k] != v {
			t.Errorf("check step: %s is %q, the analysis step's %q", k, v, judge[k])
		}
	}
	for k := range judge {
		if _, ok := check[k]; !ok {
			t.Errorf("the check step lacks the analysis step's %s", k)
		}
	}
}
