package orbtest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const testOrb = `
version: 2.1
description: a small orb that exercises the runner
commands:
  greet:
    description: prints its parameters
    parameters:
      who: {type: string, description: who}
      loud: {type: boolean, default: false, description: loud}
      times: {type: integer, default: 1, description: times}
      color: {type: enum, enum: [red, blue], default: red, description: color}
      token: {type: env_var_name, default: MY_TOKEN, description: token}
    steps:
      - run:
          name: greet << parameters.who >>
          environment:
            WHO: << parameters.who >>
            LOUD: << parameters.loud >>
            TIMES: << parameters.times >>
            COLOR: << parameters.color >>
            TOKEN_VAR: << parameters.token >>
            PIPE: << pipeline.id >>/<< pipeline.number >>
          command: echo "hi $WHO loud=$LOUD times=$TIMES color=$COLOR token=$TOKEN_VAR pipe=$PIPE"
      - when:
          condition: << parameters.loud >>
          steps:
            - run: echo LOUD
      - unless:
          condition:
            equal: [blue, << parameters.color >>]
          steps:
            - run: echo not blue
  export:
    description: sets a variable for later steps
    steps:
      - run: echo 'export FROM_EARLIER=yes' >> "$BASH_ENV"
  wrap:
    description: runs steps given as a parameter, then greets
    parameters:
      before: {type: steps, default: [], description: steps}
    steps:
      - steps: << parameters.before >>
      - greet: {who: wrapped}
  flaky:
    description: fails, then shows when semantics
    steps:
      - run: {name: fails, command: exit 7}
      - run: {name: skipped, command: echo no}
      - run: {name: on fail, command: echo cleanup, when: on_fail}
      - run: {name: always, command: echo always, when: always}
      - store_test_results: {path: results}
`

func newTestJob(t *testing.T) *Job {
	t.Helper()
	o, err := Parse([]byte(testOrb))
	if err != nil {
		t.Fatal(err)
	}
	return NewJob(t, o)
}

func outputs(j *Job) []string {
	var out []string
	for _, s := range j.Steps {
		if s.Ran {
			out = append(out, strings.TrimSpace(s.Output))
		}
	}
	return out
}

func TestSubstitutesParametersAndPipeline(t *testing.T) {
	j := newTestJob(t)
	err := j.Run(context.Background(), "greet", map[string]any{"who": `a "quoted" $name *`, "loud": true, "times": 3})
	if err != nil {
		t.Fatal(err)
	}
	got := outputs(j)
	want := []string{`hi a "quoted" $name * loud=true times=3 color=red token=MY_TOKEN pipe=` + j.Pipeline["id"] + "/42", "LOUD", "not blue"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("outputs = %q\nwant      %q", got, want)
	}
	if j.Steps[0].Name != `greet a "quoted" $name *` {
		t.Errorf("step name = %q", j.Steps[0].Name)
	}
}

func TestConditionsFollowParameters(t *testing.T) {
	j := newTestJob(t)
	if err := j.Run(context.Background(), "greet", map[string]any{"who": "x", "color": "blue"}); err != nil {
		t.Fatal(err)
	}
	if got := outputs(j); len(got) != 1 {
		t.Errorf("with loud=false and color=blue only the greeting should run, got %q", got)
	}
}

func TestBindRejectsWhatCircleCIRejects(t *testing.T) {
	cases := map[string]map[string]any{
		"missing required": {},
		"unknown argument": {"who": "x", "whom": "y"},
		"int for string":   {"who": 200},
		"string for bool":  {"who": "x", "loud": "yes"},
		"string for int":   {"who": "x", "times": "3"},
		"enum not listed":  {"who": "x", "color": "green"},
		"bad env var name": {"who": "x", "token": "NOT-A-NAME"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			j := newTestJob(t)
			err := j.Run(context.Background(), "greet", args)
			if err == nil {
				t.Fatal("accepted")
			}
			var se *StepError
			if errors.As(err, &se) || len(j.Steps) != 0 {
				t.Errorf("a step ran although the invocation is invalid: %v", err)
			}
		})
	}
}

func TestBashEnvCarriesAcrossSteps(t *testing.T) {
	j := newTestJob(t)
	ctx := context.Background()
	if err := j.Run(ctx, "export", nil); err != nil {
		t.Fatal(err)
	}
	if err := j.RunSteps(ctx, map[string]any{"run": `test "$FROM_EARLIER" = yes && echo "$HOME"`}); err != nil {
		t.Fatalf("later step did not see the export: %v", err)
	}
	if got := strings.TrimSpace(j.LastRun().Output); got != j.Home {
		t.Errorf("HOME = %q, want %q", got, j.Home)
	}
}

func TestStepsParameterAndNestedCommands(t *testing.T) {
	j := newTestJob(t)
	err := j.Run(context.Background(), "wrap", map[string]any{"before": []any{map[string]any{"run": "echo first"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := outputs(j)
	if len(got) < 2 || got[0] != "first" || !strings.HasPrefix(got[1], "hi wrapped") {
		t.Errorf("outputs = %q, want the given step then the nested greet", got)
	}
}

func TestWhenAfterFailure(t *testing.T) {
	j := newTestJob(t)
	if err := os.MkdirAll(filepath.Join(j.Dir, "results"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := j.Run(context.Background(), "flaky", nil)
	var se *StepError
	if !errors.As(err, &se) || se.Step.Exit != 7 || se.Step.Name != "fails" {
		t.Fatalf("err = %v, want step fails with exit 7", err)
	}
	ran := map[string]bool{}
	for _, s := range j.Steps {
		ran[s.Name] = s.Ran
	}
	want := map[string]bool{"fails": true, "skipped": false, "on fail": true, "always": true, "store_test_results": true}
	for name, w := range want {
		if ran[name] != w {
			t.Errorf("step %q ran = %v, want %v", name, ran[name], w)
		}
	}
	if st := j.Stored("store_test_results"); len(st) != 1 || !st[0].Exists || st[0].Path != filepath.Join(j.Dir, "results") {
		t.Errorf("stored = %+v", st)
	}
	if !j.Failed() {
		t.Error("job not marked failed")
	}
}

func TestUndeclaredReferencesAreErrors(t *testing.T) {
	o, err := Parse([]byte(`
commands:
  bad:
    description: refers to nothing
    steps:
      - run: echo << parameters.nope >>
`))
	if err != nil {
		t.Fatal(err)
	}
	j := NewJob(t, o)
	if err := j.Run(context.Background(), "bad", nil); err == nil || !strings.Contains(err.Error(), "parameters.nope") {
		t.Errorf("err = %v, want one naming parameters.nope", err)
	}
	delete(j.Pipeline, "id")
	if _, err := substitute("<< pipeline.id >>", nil, j.Pipeline); err == nil {
		t.Error("a missing pipeline value was substituted")
	}
}

// A packed orb holds its scripts with every << written \<< (circleci orb
// pack's escape); compiling turns \<< back into <<, and the shell sees the
// script as written.
func TestEscapedOpenIsLiteralAfterCompiling(t *testing.T) {
	o, err := Parse([]byte(`
commands:
  shell:
    description: heredoc, here-string and an escaped reference
    parameters:
      who: {type: string, default: world, description: who}
    steps:
      - run:
          name: shell
          environment:
            WHO: << parameters.who >>
          command: |
            cat \<<EOF
            hello $WHO
            EOF
            read -r a b \<<<"one two"
            echo "$b $a"
            echo '\<< parameters.who >>'
            echo $((1 \<< 3))
`))
	if err != nil {
		t.Fatal(err)
	}
	j := NewJob(t, o)
	if err := j.Run(context.Background(), "shell", map[string]any{"who": "<<you>>"}); err != nil {
		t.Fatalf("%v\n%s", err, j.LastRun().Output)
	}
	want := "hello <<you>>\ntwo one\n<< parameters.who >>\n8\n"
	if got := j.LastRun().Output; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if cmd := j.LastRun().Command; !strings.HasPrefix(cmd, "cat <<EOF\n") {
		t.Errorf("compiled command %q still holds \\<<", cmd)
	}
}

func TestUnescapedOpenIsAnError(t *testing.T) {
	for _, cmd := range []string{"cat <<EOF\nx\nEOF", `read -r a <<<"$b"`, "echo << parameters.who"} {
		o, err := Parse([]byte("commands:\n  bad:\n    description: x\n    parameters:\n      who: {type: string, default: w, description: w}\n    steps:\n      - run:\n          name: bad\n          command: " + strconv.Quote(cmd) + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		j := NewJob(t, o)
		if err := j.Run(context.Background(), "bad", nil); err == nil || !strings.Contains(err.Error(), "unescaped <<") {
			t.Errorf("%q: err = %v, want an unescaped << error", cmd, err)
		}
		if len(j.Steps) != 0 {
			t.Errorf("%q: a step ran", cmd)
		}
	}
}

// save_cache stores paths under a rendered key once; restore_cache finds it
// by exact key or prefix in another job with another HOME.
func TestCachesAcrossJobs(t *testing.T) {
	o, err := Parse([]byte(`
commands:
  save:
    description: writes a file and saves it
    steps:
      - run: {name: write, command: 'mkdir -p ~/.cache/x && echo "$V" > ~/.cache/x/f'}
      - save_cache:
          key: x-{{ arch }}-{{ .Environment.V }}-{{ checksum "lock" }}
          paths:
            - ~/.cache/x
  restore:
    description: restores and prints the file
    steps:
      - restore_cache:
          keys:
            - x-{{ arch }}-{{ .Environment.V }}-
            - x-
      - run: {name: read, command: 'cat ~/.cache/x/f'}
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a := NewJob(t, o)
	a.Env["V"] = "one"
	if err := os.WriteFile(filepath.Join(a.Dir, "lock"), []byte("lock"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.Run(ctx, "save", nil); err != nil {
		t.Fatal(err)
	}
	entries := a.Cache.Entries()
	if len(entries) != 1 || !strings.HasPrefix(entries[0].Key, "x-arch1-") || !strings.Contains(entries[0].Key, "-one-") {
		t.Fatalf("entries = %+v", entries)
	}
	// Same key again: not overwritten.
	a.Env["V"] = "one"
	if err := a.RunSteps(ctx, map[string]any{"run": map[string]any{"name": "change", "command": "echo two > ~/.cache/x/f"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.Run(ctx, "save", nil); err != nil {
		t.Fatal(err)
	}
	if n := len(a.Cache.Entries()); n != 1 {
		t.Errorf("a second save_cache of the same key made %d entries, want 1", n)
	}

	b := NewJob(t, o)
	b.Cache = a.Cache
	b.Env["V"] = "one"
	if err := b.Run(ctx, "restore", nil); err != nil {
		t.Fatalf("%v\n%+v", err, b.Steps)
	}
	if got := strings.TrimSpace(b.LastRun().Output); got != "one" {
		t.Errorf("restored file holds %q, want one (the first save)", got)
	}
	// No matching key: nothing restored, the step passes.
	c := NewJob(t, o)
	c.Env["V"] = "other"
	if err := c.Run(ctx, "restore", nil); err == nil {
		t.Error("restore without a cache: the read step passed")
	}
	if st := c.Steps[0]; st.Kind != "restore_cache" || !st.Ran || st.Exists {
		t.Errorf("restore_cache step = %+v, want run and nothing found", st)
	}
}
