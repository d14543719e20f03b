package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pmguard/pmguard/internal/canary"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/dora"
	"github.com/pmguard/pmguard/internal/followups"
	"github.com/pmguard/pmguard/internal/health"
	"github.com/pmguard/pmguard/internal/migrations"
	"github.com/pmguard/pmguard/internal/notify"
	"github.com/pmguard/pmguard/internal/postmortem"
	"github.com/pmguard/pmguard/internal/rollback"
)

// settingParams maps each setting of the loaded settings in dst to its orb
// parameter name and env var, as config names them in errors.
func settingParams(t *testing.T, set *config.Set, v reflect.Value, out map[string]string) {
	t.Helper()
	for i := 0; i < v.NumField(); i++ {
		sf, fv := v.Type().Field(i), v.Field(i)
		if _, ok := sf.Tag.Lookup("env"); !ok {
			if fv.Kind() == reflect.Struct {
				settingParams(t, set, fv, out)
			}
			continue
		}
		var ie *config.InputError
		if !errors.As(set.Invalid(fv.Addr().Interface(), "", "named", ""), &ie) {
			t.Fatalf("setting %s is not known to config", sf.Name)
		}
		out[ie.Param] = ie.Env
	}
}

// orbCommand is an orb command's parameters and the env vars its run steps
// set from them.
type orbCommand struct {
	Parameters map[string]any `yaml:"parameters"`
	Steps      []map[string]struct {
		Environment map[string]string `yaml:"environment"`
	} `yaml:"steps"`
}

var paramRef = regexp.MustCompile(`^<< parameters\.(\w+) >>$`)

// TestOrbParametersAreSettings: every parameter of each command and job that
// runs a verb is a setting of its verb under the same name (so an error
// names the parameter the user wrote), and the run step passes it in that
// setting's env var; the install and notice parameters are the only others.
func TestOrbParametersAreSettings(t *testing.T) {
	// Install parameters (rollback_auto spells them pmguard_*, since its version is the rollback target) and step control.
	notSettings := map[string]bool{"version": true, "base_url": true, "install_dir": true, "sha256": true, "cache": true,
		"pmguard_version": true, "pmguard_sha256": true, "when": true,
		"slack_channel": true, "slack_mentions": true, "slack_token_env": true,
		"step_name": true, "checkout": true, "attach_workspace": true, "workspace_root": true, "persist_to_workspace": true, "store_cache": true, "store_cache_key": true} // the steps' own names; the jobs' own steps
	for _, tc := range []struct {
		verb, command string
		settings      any
		env           map[string]string
	}{
		{"health", "commands/health_check", &health.Settings{}, map[string]string{"PMGUARD_HEALTH_ENDPOINTS": "https://a.example/h"}},
		{"canary", "commands/canary_check", &canary.Settings{}, nil},
		{"rollback", "commands/rollback_auto", &rollback.Settings{}, nil},
		{"notify", "commands/notify", &notify.Settings{}, nil},
		{"migrations", "commands/migration_check", &migrations.Settings{}, nil},
		{"postmortem", "jobs/postmortem", &postmortem.Settings{}, nil},
		{"dora", "jobs/dora_report", &dora.Settings{}, nil},
		{"followups", "jobs/followups", &followups.Settings{}, nil},
	} {
		t.Run(tc.command, func(t *testing.T) {
			set, _, err := config.Load(context.Background(), tc.verb, nil, config.MapEnv(tc.env), tc.settings, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			params := map[string]string{}
			settingParams(t, set, reflect.ValueOf(tc.settings).Elem(), params)
			b, err := os.ReadFile(filepath.Join("..", "..", "orb", "src", tc.command+".yml"))
			if err != nil {
				t.Fatal(err)
			}
			var cmd orbCommand
			if err := yaml.Unmarshal(b, &cmd); err != nil {
				t.Fatal(err)
			}
			for name := range cmd.Parameters {
				if _, ok := params[name]; !ok && !notSettings[name] {
					t.Errorf("orb parameter %s is no setting of pmguard %s (add an orb tag to the setting it feeds)", name, tc.verb)
				}
			}
			for _, step := range cmd.Steps {
				for env, value := range step["run"].Environment {
					m := paramRef.FindStringSubmatch(value)
					if m == nil || notSettings[m[1]] {
						continue
					}
					if params[m[1]] != env {
						t.Errorf("the run step passes parameter %s in %s, but the setting named %s reads %q", m[1], env, m[1], params[m[1]])
					}
				}
			}
		})
	}
}

// TestOrbCommandCallsPassSharedParameters: a command or job that calls
// another of the orb's commands passes on every parameter the two share by
// name, so a parameter the user sets reaches every step it is meant for
// (show_query on a notice step, say). The callee's timeout and retries are
// its own (a notice's, not a probe's) and keep their defaults.
func TestOrbCommandCallsPassSharedParameters(t *testing.T) {
	own := map[string]bool{"timeout": true, "retries": true}
	root := filepath.Join("..", "..", "orb", "src")
	params := func(path string) (map[string]any, []any) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var y struct {
			Parameters map[string]any `yaml:"parameters"`
			Steps      []any          `yaml:"steps"`
		}
		if err := yaml.Unmarshal(b, &y); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return y.Parameters, y.Steps
	}
	commands := map[string]map[string]any{}
	cmdFiles, _ := filepath.Glob(filepath.Join(root, "commands", "*.yml"))
	for _, f := range cmdFiles {
		commands[strings.TrimSuffix(filepath.Base(f), ".yml")], _ = params(f)
	}
	jobFiles, _ := filepath.Glob(filepath.Join(root, "jobs", "*.yml"))
	if len(cmdFiles) == 0 || len(jobFiles) == 0 {
		t.Fatal("no orb commands or jobs found")
	}
	calls := 0
	for _, f := range append(cmdFiles, jobFiles...) {
		caller, steps := params(f)
		var walk func(steps []any)
		walk = func(steps []any) {
			for _, s := range steps {
				m, _ := s.(map[string]any)
				for name, v := range m {
					args, _ := v.(map[string]any)
					if name == "when" || name == "unless" {
						inner, _ := args["steps"].([]any)
						walk(inner)
						continue
					}
					callee, ok := commands[name]
					if !ok {
						continue
					}
					calls++
					for p := range callee {
						if _, shared := caller[p]; !shared || own[p] {
							continue
						}
						if _, passed := args[p]; !passed {
							t.Errorf("%s: its %s step does not pass parameter %s", filepath.Base(f), name, p)
						}
					}
				}
			}
		}
		walk(steps)
	}
	if calls == 0 {
		t.Fatal("found no calls of the orb's commands")
	}
}
