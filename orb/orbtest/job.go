package orbtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Job is one CircleCI job on the host: steps run one after another and share
// HOME, the working directory and $BASH_ENV. Call Run (a command) or RunJob
// (an orb job) as many times as the job has steps.
type Job struct {
	Orb *Orb
	// Dir is the job's working directory; Home its $HOME. $BASH_ENV is a
	// file in Home.
	Dir, Home string
	// Env is the job's environment (project variables, contexts); PATH
	// defaults to the host's.
	Env map[string]string
	// Pipeline holds pipeline values by name without the "pipeline."
	// prefix: id, number, git.revision, parameters.x ...
	Pipeline map[string]string
	// Log receives every step's output as it runs (nil: discarded).
	Log io.Writer
	// Cache is the dependency cache save_cache and restore_cache use; jobs
	// that share one see each other's caches.
	Cache *Cache
	// Shell runs the steps that name none: CircleCI's "/bin/bash -eo
	// pipefail" when empty; "/bin/sh -eo pipefail" (e.g. busybox sh) for an
	// image without bash, whose steps never read $BASH_ENV.
	Shell string

	// Steps records every step expanded so far, run or not.
	Steps  []StepResult
	failed bool
}

// StepResult is what happened to one step.
type StepResult struct {
	Kind    string // run, store_test_results, store_artifacts, or a built-in step name
	Name    string
	Command string            // run: the command
	Env     map[string]string // run: the step's own environment
	When    string            // run: always, on_success, on_fail
	Ran     bool
	Exit    int    // run: exit status
	Output  string // run: stdout and stderr
	Path    string // store_*: the path that would be uploaded; *_cache: the key saved or restored
	Exists  bool   // store_*: whether Path existed; save_cache: something saved; restore_cache: a cache found
}

// StepError is returned by Run when a step failed.
type StepError struct {
	Step StepResult
}

func (e *StepError) Error() string {
	return fmt.Sprintf("step %q exited %d", e.Step.Name, e.Step.Exit)
}

// NewJob makes a job with its own HOME and working directory under tb's temp
// dir, pipeline id and number set, and step output logged to tb.
func NewJob(tb testing.TB, orb *Orb) *Job {
	tb.Helper()
	base := tb.TempDir()
	j := &Job{
		Orb:  orb,
		Dir:  filepath.Join(base, "project"),
		Home: filepath.Join(base, "home"),
		Env:  map[string]string{},
		Pipeline: map[string]string{
			"id":           "0b6f7c2a-5f0e-4d5a-9a43-3c1b8f0e2d11",
			"number":       "42",
			"git.revision": "4f2c9a1d8e7b6c5a4f3e2d1c0b9a8f7e6d5c4b3a",
			"git.branch":   "main",
		},
		Log:   testWriter{tb: tb},
		Cache: NewCache(tb),
	}
	// CircleCI names every job run; a fresh one per job, as there.
	j.Env["CIRCLE_WORKFLOW_JOB_ID"] = uuid.NewString()
	for _, d := range []string{j.Dir, j.Home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	return j
}

// BashEnv is the job's $BASH_ENV file.
func (j *Job) BashEnv() string { return filepath.Join(j.Home, ".circleci-bash-env") }

// Failed reports whether a step of the job has failed.
func (j *Job) Failed() bool { return j.failed }

// Run runs the orb command name with args as a step of the job. It returns
// a *StepError when a run step failed, or an error when the invocation
// would not compile (unknown or missing argument, wrong type).
func (j *Job) Run(ctx context.Context, name string, args map[string]any) error {
	return j.runSteps(ctx, []any{map[string]any{name: anyMap(args)}})
}

// RunJob runs the steps of the orb job name with args (its executor is not
// emulated: steps run on the host).
func (j *Job) RunJob(ctx context.Context, name string, args map[string]any) error {
	d, ok := j.Orb.Jobs[name]
	if !ok {
		return fmt.Errorf("orb has no job %q", name)
	}
	steps, err := j.bind(d, args)
	if err != nil {
		return err
	}
	return j.runSteps(ctx, steps)
}

// RunSteps runs steps written as in a config's job, e.g.
// map[string]any{"run": "pmguard version"} or "pmguard/install" forms.
func (j *Job) RunSteps(ctx context.Context, steps ...any) error {
	return j.runSteps(ctx, steps)
}

// Expand returns the steps command name runs with args, fully expanded:
// what a compiled config would hold. It runs nothing.
func (j *Job) Expand(name string, args map[string]any) ([]map[string]any, error) {
	return j.expand([]any{map[string]any{name: anyMap(args)}}, 0)
}

// ExpandJob is Expand for the orb job name: the steps it runs with args.
func (j *Job) ExpandJob(name string, args map[string]any) ([]map[string]any, error) {
	d, ok := j.Orb.Jobs[name]
	if !ok {
		return nil, fmt.Errorf("orb has no job %q", name)
	}
	steps, err := j.bind(d, args)
	if err != nil {
		return nil, err
	}
	return j.expand(steps, 0)
}

func (j *Job) runSteps(ctx context.Context, steps []any) error {
	flat, err := j.expand(steps, 0)
	if err != nil {
		return err
	}
	var firstErr error
	for _, s := range flat {
		if err := j.step(ctx, s); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func anyMap(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

func (j *Job) bind(d *Definition, args map[string]any) ([]any, error) {
	vals, err := d.Bind(args)
	if err != nil {
		return nil, err
	}
	s, err := substitute(d.Steps, vals, j.Pipeline)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Name, err)
	}
	steps, _ := s.([]any)
	return steps, nil
}

// builtins are CircleCI steps other than run and store_*: the caches are
// emulated (cache.go), the others recorded as skipped.
var builtins = map[string]bool{
	"checkout": true, "save_cache": true, "restore_cache": true, "persist_to_workspace": true,
	"attach_workspace": true, "add_ssh_keys": true, "setup_remote_docker": true,
}

// expand flattens steps into single run/store/built-in steps.
func (j *Job) expand(steps []any, depth int) ([]map[string]any, error) {
	if depth > 20 {
		return nil, errors.New("commands nest more than 20 deep (a cycle?)")
	}
	var out []map[string]any
	for _, s := range steps {
		var key string
		var body any
		switch x := s.(type) {
		case string:
			key = x
		case map[string]any:
			if len(x) != 1 {
				return nil, fmt.Errorf("a step must have exactly one key, got %v", sortedKeys(x))
			}
			for k, v := range x {
				key, body = k, v
			}
		case []any: // a steps parameter substituted into a list
			sub, err := j.expand(x, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			continue
		default:
			return nil, fmt.Errorf("unexpected step %v (%T)", s, s)
		}
		switch {
		case key == "run" || key == "store_test_results" || key == "store_artifacts" || builtins[key]:
			out = append(out, map[string]any{key: body})
		case key == "steps": // - steps: << parameters.x >> of type steps
			list, ok := body.([]any)
			if !ok && body != nil {
				return nil, fmt.Errorf("steps: want a list, got %T", body)
			}
			flat, err := j.expand(list, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, flat...)
		case key == "when" || key == "unless":
			m, ok := body.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: want a mapping with condition and steps", key)
			}
			ok, err := truthy(m["condition"])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			if ok == (key == "unless") {
				continue
			}
			var sub []any
			switch st := m["steps"].(type) {
			case []any:
				sub = st
			case nil:
			default:
				sub = []any{st}
			}
			flat, err := j.expand(sub, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, flat...)
		default:
			name := strings.TrimPrefix(key, "pmguard/")
			d, ok := j.Orb.Commands[name]
			if !ok {
				return nil, fmt.Errorf("unknown step or command %q", key)
			}
			var args map[string]any
			if body != nil {
				if args, ok = body.(map[string]any); !ok {
					return nil, fmt.Errorf("%s: arguments must be a mapping, got %T", key, body)
				}
			}
			bound, err := j.bind(d, args)
			if err != nil {
				return nil, err
			}
			flat, err := j.expand(bound, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, flat...)
		}
	}
	return out, nil
}

// truthy evaluates a logic statement as CircleCI does: false, null, 0, the
// empty string are false; and/or/not/equal combine.
func truthy(v any) (bool, error) {
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	case int:
		return x != 0, nil
	case float64:
		return x != 0, nil
	case string:
		return x != "", nil
	case map[string]any:
		if len(x) != 1 {
			return false, fmt.Errorf("a logic statement has one key, got %v", sortedKeys(x))
		}
		for op, arg := range x {
			switch op {
			case "not":
				b, err := truthy(arg)
				return !b, err
			case "and", "or":
				list, _ := arg.([]any)
				if len(list) == 0 {
					return false, nil
				}
				for _, item := range list {
					b, err := truthy(item)
					if err != nil {
						return false, err
					}
					if op == "and" && !b {
						return false, nil
					}
					if op == "or" && b {
						return true, nil
					}
				}
				return op == "and", nil
			case "equal":
				list, _ := arg.([]any)
				for _, item := range list[min(1, len(list)):] {
					if Text(item) != Text(list[0]) {
						return false, nil
					}
				}
				return len(list) > 0, nil
			}
			return false, fmt.Errorf("logic operator %q is not supported", op)
		}
	}
	return false, fmt.Errorf("cannot evaluate condition %v (%T)", v, v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// step runs one expanded step.
func (j *Job) step(ctx context.Context, s map[string]any) error {
	for kind, body := range s {
		switch kind {
		case "run":
			return j.run(ctx, body)
		case "store_test_results", "store_artifacts":
			// CircleCI uploads test results and artifacts after a failed step too.
			m, _ := body.(map[string]any)
			path, _ := m["path"].(string)
			res := StepResult{Kind: kind, Name: kind, Path: j.abs(path), Ran: true}
			_, err := os.Stat(res.Path)
			res.Exists = err == nil
			j.Steps = append(j.Steps, res)
			j.logf("==> %s %s (exists: %v)\n", kind, res.Path, res.Exists)
		case "restore_cache", "save_cache":
			// Like every step but run, these run only while the job has
			// not failed, unless save_cache says otherwise with when.
			m, _ := body.(map[string]any)
			when := "on_success"
			if w, ok := m["when"]; ok && kind == "save_cache" {
				when = Text(w)
			}
			if j.Cache == nil || (when == "on_success" && j.failed) || (when == "on_fail" && !j.failed) {
				j.Steps = append(j.Steps, StepResult{Kind: kind, Name: kind})
				j.logf("==> %s: skipped\n", kind)
				return nil
			}
			var res StepResult
			if kind == "save_cache" {
				res = j.saveCache(body)
			} else {
				res = j.restoreCache(body)
			}
			j.Steps = append(j.Steps, res)
			j.logf("==> %s: %s\n", res.Name, res.Output)
		default:
			j.Steps = append(j.Steps, StepResult{Kind: kind, Name: kind})
			j.logf("==> %s: not emulated, skipped\n", kind)
		}
	}
	return nil
}

func (j *Job) run(ctx context.Context, body any) error {
	res := StepResult{Kind: "run", When: "on_success", Env: map[string]string{}}
	shell := "/bin/bash -eo pipefail"
	if j.Shell != "" {
		shell = j.Shell
	}
	dir := j.Dir
	switch x := body.(type) {
	case string:
		res.Command = x
	case map[string]any:
		for k, v := range x {
			switch k {
			case "command":
				res.Command, _ = v.(string)
			case "name":
				res.Name = Text(v)
			case "shell":
				shell = Text(v)
			case "working_directory":
				dir = j.abs(Text(v))
			case "when":
				res.When = Text(v)
			case "environment":
				env, ok := v.(map[string]any)
				if !ok && v != nil {
					return fmt.Errorf("run: environment must be a mapping, got %T", v)
				}
				for name, val := range env {
					res.Env[name] = Text(val)
				}
			case "background":
				if b, _ := v.(bool); b {
					return errors.New("run: background steps are not emulated")
				}
			case "no_output_timeout", "max_auto_reruns", "auto_rerun_delay":
			default:
				return fmt.Errorf("run: unknown key %q", k)
			}
		}
	default:
		return fmt.Errorf("run: want a string or a mapping, got %T", body)
	}
	if res.Name == "" {
		res.Name = strings.SplitN(strings.TrimSpace(res.Command), "\n", 2)[0]
	}
	switch res.When {
	case "always":
	case "on_success":
		if j.failed {
			j.Steps = append(j.Steps, res)
			j.logf("==> %s: skipped (an earlier step failed)\n", res.Name)
			return nil
		}
	case "on_fail":
		if !j.failed {
			j.Steps = append(j.Steps, res)
			return nil
		}
	default:
		return fmt.Errorf("run %q: when must be always, on_success or on_fail, got %q", res.Name, res.When)
	}

	script, err := os.CreateTemp(j.Home, ".step-*.sh")
	if err != nil {
		return err
	}
	defer os.Remove(script.Name())
	if _, err := script.WriteString(res.Command); err != nil {
		return err
	}
	script.Close()

	argv := append(strings.Fields(shell), script.Name())
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = j.environ(res.Env)
	var out bytes.Buffer
	var w io.Writer = &out
	var lw *lineWriter
	if j.Log != nil {
		lw = &lineWriter{w: j.Log, prefix: "    "}
		w = io.MultiWriter(&out, lw)
	}
	cmd.Stdout, cmd.Stderr = w, w
	// WaitDelay bounds the wait for pipes a killed step's children hold open.
	cmd.WaitDelay = 5 * time.Second
	j.logf("==> run %s\n", res.Name)
	err = cmd.Run()
	if lw != nil {
		lw.Flush()
	}
	res.Ran = true
	res.Output = out.String()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			res.Exit = ee.ExitCode()
		} else {
			res.Exit = -1
			res.Output += "\n" + err.Error()
		}
		j.failed = true
		j.Steps = append(j.Steps, res)
		j.logf("==> %s: exit %d\n", res.Name, res.Exit)
		return &StepError{Step: res}
	}
	j.Steps = append(j.Steps, res)
	return nil
}

// environ is the process environment of a run step: the job's variables,
// CircleCI's own, then the step's environment on top.
func (j *Job) environ(step map[string]string) []string {
	env := map[string]string{
		"PATH":     os.Getenv("PATH"),
		"HOME":     j.Home,
		"BASH_ENV": j.BashEnv(),
		"CI":       "true",
		"CIRCLECI": "true",
		"LANG":     "C.UTF-8",
		"TMPDIR":   os.TempDir(),
	}
	if v := os.Getenv("GOCOVERDIR"); v != "" {
		env["GOCOVERDIR"] = v
	}
	for k, v := range j.Env {
		env[k] = v
	}
	for k, v := range step {
		env[k] = v
	}
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	sort.Strings(list)
	return list
}

func (j *Job) abs(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		return filepath.Join(j.Home, p[1:])
	}
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(j.Dir, p)
}

// LastRun returns the last run step that ran, or nil.
func (j *Job) LastRun() *StepResult {
	for i := len(j.Steps) - 1; i >= 0; i-- {
		if j.Steps[i].Kind == "run" && j.Steps[i].Ran {
			return &j.Steps[i]
		}
	}
	return nil
}

// Stored returns the paths of the store_test_results or store_artifacts
// steps (kind) that ran, in order.
func (j *Job) Stored(kind string) []StepResult {
	var out []StepResult
	for _, s := range j.Steps {
		if s.Kind == kind && s.Ran {
			out = append(out, s)
		}
	}
	return out
}

func (j *Job) logf(format string, a ...any) {
	if j.Log != nil {
		fmt.Fprintf(j.Log, format, a...)
	}
}

// testWriter sends output to a test's log, one line per call.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// lineWriter prefixes each complete line; it is safe for the two pipes of
// one process to share.
type lineWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

// Flush writes a last line that had no newline.
func (l *lineWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.buf)
		l.buf = nil
	}
}
