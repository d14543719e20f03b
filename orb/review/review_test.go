package review

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// good is a small orb that passes every check.
var good = map[string]string{
	"@orb.yml": `version: 2.1
description: >
  Greets people from CircleCI jobs, politely and at length, so the orb's
  description is long enough to be found in the registry.
display:
  source_url: https://github.com/acme/greet
  home_url: https://acme.example.com/greet
`,
	"commands/greet.yml": `description: Greets someone.
parameters:
  who:
    type: string
    default: world
    description: Who to greet.
  token_env:
    type: env_var_name
    default: GREET_TOKEN
    description: Variable holding the token.
  channel:
    type: string
    default: $GREET_CHANNEL
    description: Read from the environment by the script.
steps:
  - run:
      name: Greet
      environment:
        WHO: << parameters.who >>
        CHANNEL: << parameters.channel >>
      command: <<include(scripts/greet.sh)>>
  - when:
      condition: true
      steps:
        - run:
            name: Short
            command: echo hi
  - restore_cache:
      key: greet-<< parameters.who >>
`,
	"jobs/greet_all.yml": `description: Greets everyone.
executor: default
steps:
  - greet
`,
	"executors/default.yml": `description: The base image.
docker:
  - image: cimg/base:current
`,
	"examples/greet_someone.yml": `description: Greet someone.
usage:
  version: 2.1
  orbs:
    greet: acme/greet@2
  workflows:
    main:
      jobs:
        - greet/greet_all
`,
	"scripts/greet.sh": "echo \"hello $WHO\"\n",
}

func writeOrb(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if content == "" {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func with(changes map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range good {
		out[k] = v
	}
	for k, v := range changes {
		out[k] = v
	}
	return out
}

func TestGoodOrbPasses(t *testing.T) {
	got, err := Review(writeOrb(t, good), Options{Orb: "acme/greet", Tag: "v2.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range got {
		t.Errorf("unexpected finding: %s", f)
	}
}

// Each case breaks one practice and must be reported under its code, and
// only under it.
func TestEachCheckFindsItsProblem(t *testing.T) {
	cases := []struct {
		name, code string
		files      map[string]string
		opts       Options
		where      string // in the finding's text
	}{
		{"no source_url", "RC001", map[string]string{"@orb.yml": strings.Replace(good["@orb.yml"], "  source_url: https://github.com/acme/greet\n", "", 1)}, Options{}, "@orb.yml"},
		{"command without description", "RC002", map[string]string{"commands/greet.yml": strings.Replace(good["commands/greet.yml"], "description: Greets someone.\n", "", 1)}, Options{}, "commands/greet.yml:1"},
		{"example with empty description", "RC002", map[string]string{"examples/greet_someone.yml": strings.Replace(good["examples/greet_someone.yml"], "description: Greet someone.", `description: ""`, 1)}, Options{}, "examples/greet_someone.yml"},
		{"parameter without description", "RC002", map[string]string{"commands/greet.yml": strings.Replace(good["commands/greet.yml"], "    description: Who to greet.\n", "", 1)}, Options{}, "parameter who"},
		{"no examples", "RC003", map[string]string{"examples/greet_someone.yml": ""}, Options{}, "no usage example"},
		{"example named example", "RC004", map[string]string{"examples/greet_someone.yml": "", "examples/example_greet.yml": good["examples/greet_someone.yml"]}, Options{}, "example_greet.yml"},
		{"short description", "RC005", map[string]string{"@orb.yml": "version: 2.1\ndescription: Greets.\ndisplay:\n  source_url: https://github.com/acme/greet\n"}, Options{}, "7 characters"},
		{"source_url not https", "RC006", map[string]string{"@orb.yml": strings.Replace(good["@orb.yml"], "source_url: https://github.com", "source_url: github.com", 1)}, Options{}, "source_url"},
		{"home_url without host", "RC007", map[string]string{"@orb.yml": strings.Replace(good["@orb.yml"], "home_url: https://acme.example.com/greet", "home_url: https:///greet", 1)}, Options{}, "home_url"},
		{"run step without name", "RC008", map[string]string{"commands/greet.yml": strings.Replace(good["commands/greet.yml"], "            name: Short\n", "", 1)}, Options{}, "commands/greet.yml:26"},
		{"long inline command", "RC009", map[string]string{"commands/greet.yml": strings.Replace(good["commands/greet.yml"], "command: echo hi", "command: echo "+strings.Repeat("hi ", 30), 1)}, Options{}, "more than 64"},
		{"long inline command, own limit", "RC009", map[string]string{"commands/greet.yml": strings.Replace(good["commands/greet.yml"], "command: echo hi", "command: echo hello there", 1)}, Options{MaxCommandLength: 10}, "more than 10"},
		{"kebab-case command", "RC010", map[string]string{"commands/greet.yml": "", "commands/greet-them.yml": good["commands/greet.yml"]}, Options{}, "greet-them"},
		{"kebab-case parameter", "RC010", map[string]string{"commands/greet.yml": strings.Replace(good["commands/greet.yml"], "  who:\n", "  who-to:\n", 1)}, Options{}, "who-to"},
		{"example at an old major", "RC011", map[string]string{"examples/greet_someone.yml": strings.Replace(good["examples/greet_someone.yml"], "acme/greet@2", "acme/greet@1.4.0", 1)}, Options{Orb: "acme/greet", Tag: "v2.0.1"}, "major version 2"},
		{"examples at two majors", "RC011", map[string]string{"examples/greet_again.yml": strings.Replace(good["examples/greet_someone.yml"], "acme/greet@2", "acme/greet@1", 1)}, Options{Orb: "acme/greet"}, "different major versions"},
		{"example importing another orb as greet", "RC011", map[string]string{"examples/greet_someone.yml": strings.Replace(good["examples/greet_someone.yml"], "acme/greet@2", "other/greet@2", 1)}, Options{Orb: "acme/greet"}, `orbs.greet is "other/greet@2"`},
		{"example importing the orb under another alias", "RC011", map[string]string{"examples/greet_someone.yml": strings.Replace(good["examples/greet_someone.yml"], "greet: acme/greet@2", "hello: acme/greet@2", 1)}, Options{Orb: "acme/greet", Tag: "v2.0.1"}, "does not import the orb as orbs.greet"},
		{"orb_name set", "RC011", map[string]string{}, Options{Orb: "acme/greet", Name: "greeter"}, "does not import the orb as orbs.greeter"},
		{"env default in a key", "RC012", map[string]string{"commands/greet.yml": strings.Replace(good["commands/greet.yml"], "key: greet-<< parameters.who >>", "key: greet-<< parameters.channel >>", 1)}, Options{}, "channel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Review(writeOrb(t, with(c.files)), c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 {
				t.Fatalf("no finding, want %s", c.code)
			}
			for _, f := range got {
				if f.Code != c.code {
					t.Errorf("finding %s, want only %s", f, c.code)
				} else if !strings.Contains(f.String(), c.where) {
					t.Errorf("finding %s does not mention %q", f, c.where)
				}
			}
			// Excluded, as orb-tools' exclude parameter does.
			c.opts.Exclude = []string{c.code}
			if got, _ := Review(writeOrb(t, with(c.files)), c.opts); len(got) != 0 {
				t.Errorf("with %s excluded: %v", c.code, got)
			}
		})
	}
}

func TestStringRunStepFailsRC008AndLongOnesRC009(t *testing.T) {
	files := with(map[string]string{"commands/greet.yml": strings.Replace(good["commands/greet.yml"], "        - run:\n            name: Short\n            command: echo hi\n", "        - run: echo "+strings.Repeat("x", 70)+"\n", 1)})
	got, err := Review(writeOrb(t, files), Options{})
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, f := range got {
		codes[f.Code] = true
	}
	if len(got) != 2 || !codes["RC008"] || !codes["RC009"] {
		t.Errorf("findings %v, want one RC008 and one RC009", got)
	}
}

// orb-tools' RC009 fails a run step in string form of any length, so
// excluding RC008 does not let a short one pass.
func TestShortStringRunStepFailsRC009(t *testing.T) {
	files := with(map[string]string{"commands/greet.yml": strings.Replace(good["commands/greet.yml"], "        - run:\n            name: Short\n            command: echo hi\n", "        - run: echo hi\n", 1)})
	got, err := Review(writeOrb(t, files), Options{Exclude: []string{"RC008"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Code != "RC009" || !strings.Contains(got[0].String(), "commands/greet.yml:25") {
		t.Errorf("findings %v, want one RC009 at commands/greet.yml:25", got)
	}
}
