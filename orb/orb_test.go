package orb_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pmguard/pmguard/orb/orbtest"
	"github.com/pmguard/pmguard/orb/pack"
)

const (
	pinned = "1.2.3" // the version the test orb is packed for
	other  = "1.3.0" // a release the orb does not pin
)

var (
	workDir string // removed after all tests

	repoOnce sync.Once
	repoRoot string
	repoErr  error
)

func TestMain(m *testing.M) {
	var err error
	workDir, err = os.MkdirTemp("", "pmguard-orb-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	code := m.Run()
	os.RemoveAll(workDir)
	os.Exit(code)
}

func root(t *testing.T) string {
	t.Helper()
	repoOnce.Do(func() { repoRoot, repoErr = orbtest.RepoRoot() })
	if repoErr != nil {
		t.Fatal(repoErr)
	}
	return repoRoot
}

func srcDir(t *testing.T) string { return filepath.Join(root(t), "orb", "src") }

// fakePin pins every release target with made-up checksums: enough for
// the orb's shape, nothing to download.
func fakePin(version string) *pack.Pin {
	var b strings.Builder
	for i, target := range []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"} {
		goos, goarch, _ := strings.Cut(target, "/")
		fmt.Fprintf(&b, "%064x  %s\n", i+1, pack.ArchiveName(version, goos, goarch))
	}
	return &pack.Pin{Version: version, Checksums: []byte(b.String())}
}

func packed(t *testing.T, pin *pack.Pin) []byte {
	t.Helper()
	b, err := pack.Pack(srcDir(t), pin)
	if err != nil {
		t.Fatalf("pack: %v", err)
	}
	return b
}

func parsed(t *testing.T, pin *pack.Pin) *orbtest.Orb {
	t.Helper()
	o, err := orbtest.Parse(packed(t, pin))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

var (
	schemaOnce sync.Once
	schema     *orbtest.Schema
	schemaErr  error
)

func loadSchema(t *testing.T) *orbtest.Schema {
	t.Helper()
	schemaOnce.Do(func() { schema, schemaErr = orbtest.LoadSchema(orbtest.SchemaPath(root(t))) })
	if schemaErr != nil {
		t.Fatalf("CircleCI config schema: %v", schemaErr)
	}
	return schema
}

func TestPackedOrbIsValid(t *testing.T) {
	s := loadSchema(t)
	for name, pin := range map[string]*pack.Pin{"unpinned": nil, "pinned": fakePin(pinned)} {
		t.Run(name, func(t *testing.T) {
			b := packed(t, pin)
			if err := s.ValidateYAML(b); err != nil {
				t.Fatalf("packed orb does not match the CircleCI schema:\n%v", err)
			}
			if strings.Contains(string(b), "<<include(") {
				t.Error("packed orb still holds an <<include(...)>>")
			}
		})
	}
}

func TestPackEmbedsPinAndScripts(t *testing.T) {
	pin := fakePin(pinned)
	o := parsed(t, pin)
	install := o.Commands["install"]
	if install == nil {
		t.Fatal("no install command")
	}
	if got := install.Parameters["version"].Default; got != pinned {
		t.Errorf("install version default = %v, want %s", got, pinned)
	}
	run := runSteps(install.Steps)
	if len(run) != 1 {
		t.Fatalf("install has %d run steps, want 1", len(run))
	}
	env, _ := run[0]["environment"].(map[string]any)
	if env[pack.EnvPinnedVersion] != pinned {
		t.Errorf("%s = %v, want %s", pack.EnvPinnedVersion, env[pack.EnvPinnedVersion], pinned)
	}
	if env[pack.EnvPinnedChecksums] != string(pin.Checksums) {
		t.Errorf("%s = %q, want the checksums.txt content %q", pack.EnvPinnedChecksums, env[pack.EnvPinnedChecksums], pin.Checksums)
	}
	script, err := os.ReadFile(filepath.Join(srcDir(t), "scripts", "install.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if run[0]["command"] != pack.Escape(string(script)) {
		t.Error("install command is not the text of scripts/install.sh, escaped as circleci orb pack escapes it")
	}
	// Compiled, the step runs the script exactly as written.
	steps, err := orbtest.NewJob(t, o).Expand("install", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if r, ok := s["run"].(map[string]any); ok && r["command"] != string(script) {
			t.Error("compiled install step does not run scripts/install.sh as written")
		}
	}
}

// refRe is a << parameters.x >> or << pipeline.x >> reference;
// pipelineParamRef is one to a pipeline parameter, which is not in scope
// in an orb's body (CircleCI: "to prevent data leaks"), so in the packed
// orb it can only be text that lacks its escape.
var (
	refRe            = regexp.MustCompile(`^<<\s*(parameters|pipeline)\.[A-Za-z0-9_.-]+\s*>>`)
	pipelineParamRef = regexp.MustCompile(`^<<\s*pipeline\.parameters\.`)
)

// strayOpens returns the offsets of every "<<" in s that is neither
// escaped (\<<) nor the start of a << parameters.x >> or << pipeline.x >>
// reference.
func strayOpens(s string) []int {
	var out []int
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '<' || s[i+1] != '<' {
			continue
		}
		if i > 0 && s[i-1] == '\\' {
			i++ // an escaped pair; its second '<' cannot start another
			continue
		}
		if !refRe.MatchString(s[i:]) {
			out = append(out, i)
		}
		i++
	}
	return out
}

// TestPackedOrbEscapesEveryOpen fails on any "<<" in the packed orb that
// CircleCI would take for the start of a template but is neither a
// parameter nor a pipeline reference, or, outside the examples (which are
// configs), is a pipeline parameter reference, and checks each included
// script that way on its own: packed, it holds no bare "<<", and compiled
// it is the script as written.
func TestPackedOrbEscapesEveryOpen(t *testing.T) {
	values := map[string]bool{} // every scalar of the unpinned packed orb
	for name, pin := range map[string]*pack.Pin{"unpinned": nil, "pinned": fakePin(pinned)} {
		t.Run(name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal(packed(t, pin), &doc); err != nil {
				t.Fatal(err)
			}
			var walk func(n *yaml.Node, inExample bool)
			walk = func(n *yaml.Node, inExample bool) {
				if n.Kind == yaml.ScalarNode {
					if pin == nil {
						values[n.Value] = true
					}
					for _, at := range strayOpens(n.Value) {
						t.Errorf("packed orb line %d: bare << at %q", n.Line, excerpt(n.Value, at))
					}
					if !inExample {
						for _, at := range pipelineParamRefs(n.Value) {
							t.Errorf("packed orb line %d: %q refers to a pipeline parameter, which an orb's body cannot (write \\<< for the text)", n.Line, excerpt(n.Value, at))
						}
					}
				}
				for i, c := range n.Content {
					// The top-level examples: key's value is usage configs.
					ex := inExample || (n == doc.Content[0] && i%2 == 1 && n.Content[i-1].Value == "examples")
					walk(c, ex)
				}
			}
			walk(&doc, false)
		})
	}
	scripts, _ := filepath.Glob(filepath.Join(srcDir(t), "scripts", "*"))
	if len(scripts) == 0 {
		t.Fatal("no scripts")
	}
	for _, path := range scripts {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(path)
		esc := pack.Escape(string(b))
		if at := strayOpens(esc); len(at) > 0 {
			t.Errorf("%s: packed, it still holds a bare << at %q", name, excerpt(esc, at[0]))
		}
		if pack.Unescape(esc) != string(b) {
			t.Errorf("%s: compiling the packed script does not give the script back", name)
		}
		if !values[esc] {
			t.Errorf("%s: not in the packed orb in its escaped form", name)
		}
	}
	for s, want := range map[string]int{"<< pipeline.parameters.x >>": 1, `\<< pipeline.parameters.x >>`: 0, "<< pipeline.git.branch >>": 0, "a << pipeline.parameters.y>>": 1} {
		if got := len(pipelineParamRefs(s)); got != want {
			t.Errorf("pipelineParamRefs(%q) found %d, want %d", s, got, want)
		}
	}
	// The check itself: a bare heredoc or here-string is caught, the
	// escaped forms and references are not.
	for s, want := range map[string]int{
		"cat <<EOF": 1, `a <<<"$b"`: 1, "<<": 1, `\<<EOF`: 0, `\<<<"$b"`: 0,
		"<< parameters.x >>": 0, "<<pipeline.git.branch>>": 0, "<< parameters.x": 1, `\<<\<<`: 0,
	} {
		if got := len(strayOpens(s)); got != want {
			t.Errorf("strayOpens(%q) found %d, want %d", s, got, want)
		}
	}
}

// pipelineParamRefs returns the offsets of every unescaped
// << pipeline.parameters.x >> in s: CircleCI keeps pipeline parameters out
// of an orb's body "to prevent data leaks", so there such a reference
// cannot compile.
func pipelineParamRefs(s string) []int {
	var out []int
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '<' && s[i+1] == '<' && (i == 0 || s[i-1] != '\\') && pipelineParamRef.MatchString(s[i:]) {
			out = append(out, i)
		}
	}
	return out
}

func excerpt(s string, at int) string {
	return s[max(0, at-20):min(len(s), at+20)]
}

func TestPackRejectsBadPins(t *testing.T) {
	good := fakePin(pinned)
	cases := map[string]struct {
		pin     pack.Pin
		targets []string
	}{
		"version with v":        {pack.Pin{Version: "v1.2.3", Checksums: good.Checksums}, nil},
		"empty checksums":       {pack.Pin{Version: pinned}, nil},
		"malformed line":        {pack.Pin{Version: pinned, Checksums: []byte("abc  pmguard_1.2.3_linux_amd64.tar.gz\n")}, nil},
		"other version listed":  {pack.Pin{Version: "1.2.4", Checksums: good.Checksums}, nil},
		"target missing":        {pack.Pin{Version: pinned, Checksums: good.Checksums[:strings.Index(string(good.Checksums), "\n")+1]}, []string{"linux/amd64", "darwin/arm64"}},
		"duplicate archive":     {pack.Pin{Version: pinned, Checksums: append(append([]byte{}, good.Checksums...), good.Checksums...)}, nil},
		"uppercase hex refused": {pack.Pin{Version: pinned, Checksums: []byte(strings.ToUpper(fmt.Sprintf("%064x", 10)) + "  pmguard_1.2.3_linux_amd64.tar.gz\n")}, nil},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if err := c.pin.Check(c.targets); err == nil {
				t.Errorf("Check accepted %q", c.pin.Checksums)
			}
		})
	}
	if err := good.Check([]string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"}); err != nil {
		t.Errorf("a complete pin was refused: %v", err)
	}
}

func TestPackRejectsIncludeOutsideSource(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "@orb.yml"), "version: 2.1\ndescription: x\n")
	writeFile(t, filepath.Join(dir, "commands", "x.yml"), "description: x\nsteps:\n  - run:\n      command: <<include(../../etc/passwd)>>\n")
	if _, err := pack.Pack(dir, nil); err == nil || !strings.Contains(err.Error(), "leaves the orb source") {
		t.Errorf("pack = %v, want an error about the include path", err)
	}
	writeFile(t, filepath.Join(dir, "commands", "x.yml"), "description: x\nsteps:\n  - run:\n      command: echo <<include(scripts/a.sh)>>\n")
	if _, err := pack.Pack(dir, nil); err == nil || !strings.Contains(err.Error(), "whole value") {
		t.Errorf("pack = %v, want an error about a partial include", err)
	}
}

// TestExamplesAreValidConfigs validates every example's usage as a config
// and checks that each use of this orb's commands, jobs and executors names
// one that exists, with arguments that bind (names, required, types).
func TestExamplesAreValidConfigs(t *testing.T) {
	s := loadSchema(t)
	o := parsed(t, fakePin(pinned))
	if len(o.Examples) == 0 {
		t.Fatal("the orb has no examples")
	}
	for name, ex := range o.Examples {
		t.Run(name, func(t *testing.T) {
			if ex.Usage == nil {
				t.Fatal("no usage")
			}
			if err := s.Validate(ex.Usage); err != nil {
				t.Fatalf("usage does not match the CircleCI schema:\n%v", err)
			}
			alias := orbAlias(ex.Usage)
			if alias == "" {
				t.Fatal("usage does not import the pmguard orb under orbs:")
			}
			found := uses(ex.Usage, alias)
			if len(found) == 0 {
				t.Error("usage uses no command, job or executor of the orb")
			}
			// circleci orb pack keeps only version, setup, orbs, jobs and
			// workflows of an example's usage: a pipeline parameter it uses
			// must be named in its description, or a copy from the registry
			// does not compile.
			b, _ := yaml.Marshal(ex.Usage)
			for _, m := range pipelineParamRe.FindAllStringSubmatch(string(b), -1) {
				if !regexp.MustCompile(`\b` + m[1] + ` \((boolean|string|integer|enum), default `).MatchString(ex.Description) {
					t.Errorf("uses pipeline parameter %s, which its description does not declare as %s (TYPE, default VALUE)", m[1], m[1])
				}
			}
			for _, use := range found {
				var d *orbtest.Definition
				switch use.kind {
				case "command":
					d = o.Commands[use.name]
				case "job":
					d = o.Jobs[use.name]
				case "executor":
					d = o.Executors[use.name]
				}
				if d == nil {
					t.Errorf("%s: the orb has no %s %q", use.where, use.kind, use.name)
					continue
				}
				if _, err := d.Bind(use.args); err != nil {
					t.Errorf("%s: %v", use.where, err)
				}
			}
		})
	}
}

var (
	pipelineParamRe = regexp.MustCompile(`<<\s*pipeline\.parameters\.(\w+)\s*>>`)
	snake           = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	// templateRe is a reference CircleCI substitutes: not escaped as \<<.
	templateRe = regexp.MustCompile(`(^|[^\\])<<\s*(parameters|pipeline)\.`)
)

// TestOrbConventions checks, on the packed orb, what this orb promises
// beyond orb-tools' review (TestOrbToolsReview): snake_case names, a
// description on everything, an example for every command and job, no
// unused parameter, and parameters reaching shell only through the
// environment.
func TestOrbConventions(t *testing.T) {
	o := parsed(t, fakePin(pinned))
	exampleText := map[string]string{}
	for name, ex := range o.Examples {
		b, _ := yaml.Marshal(ex.Usage)
		exampleText[name] = string(b)
		if !snake.MatchString(name) {
			t.Errorf("example %q: name is not snake_case", name)
		}
		if strings.TrimSpace(ex.Description) == "" {
			t.Errorf("example %q: no description", name)
		}
	}
	sections := map[string]map[string]*orbtest.Definition{"command": o.Commands, "job": o.Jobs, "executor": o.Executors}
	for kind, defs := range sections {
		for name, d := range defs {
			where := kind + " " + name
			if !snake.MatchString(name) {
				t.Errorf("%s: name is not snake_case", where)
			}
			if strings.TrimSpace(d.Description) == "" {
				t.Errorf("%s: no description", where)
			}
			body, _ := yaml.Marshal(d.Raw)
			for _, pname := range d.ParameterNames() {
				p := d.Parameters[pname]
				if !snake.MatchString(pname) {
					t.Errorf("%s: parameter %q is not snake_case", where, pname)
				}
				if strings.TrimSpace(p.Description) == "" {
					t.Errorf("%s: parameter %q has no description", where, pname)
				}
				if !regexp.MustCompile(`<<\s*parameters\.` + regexp.QuoteMeta(pname) + `\s*>>`).Match(body) {
					t.Errorf("%s: parameter %q is never used", where, pname)
				}
			}
			if kind == "executor" {
				continue
			}
			used := false
			for _, text := range exampleText {
				if regexp.MustCompile(`pmguard/` + regexp.QuoteMeta(name) + `\b`).MatchString(text) {
					used = true
				}
			}
			if !used {
				t.Errorf("%s: no example uses it", where)
			}
			for _, run := range runSteps(d.Steps) {
				cmd, _ := run["command"].(string)
				if templateRe.MatchString(cmd) {
					t.Errorf("%s: run command %q holds a << >> template; pass parameters through environment: so shell never parses them", where, firstLine(cmd))
				}
			}
		}
	}
	scripts, _ := filepath.Glob(filepath.Join(srcDir(t), "scripts", "*"))
	src := readTree(t, srcDir(t))
	for _, s := range scripts {
		if !strings.Contains(src, "<<include(scripts/"+filepath.Base(s)+")>>") {
			t.Errorf("script %s is not included by any definition", filepath.Base(s))
		}
	}
}

// TestShellcheck runs shellcheck on the orb's scripts, every run step's
// command as the shell gets it (compiled: \<< back to <<), and the release
// scripts. A script or command that starts with #!/bin/sh is checked as
// POSIX sh (shellcheck -s sh): it must run where there is no bash.
func TestShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("shellcheck is not installed (apt-get install shellcheck)")
		}
		t.Skip("shellcheck is not installed; CI fails here")
	}
	byShell := map[string][]string{}
	add := func(f string) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		shell := "bash"
		if strings.HasPrefix(string(b), "#!/bin/sh\n") {
			shell = "sh"
		}
		byShell[shell] = append(byShell[shell], f)
	}
	files, _ := filepath.Glob(filepath.Join(srcDir(t), "scripts", "*.sh"))
	more, _ := filepath.Glob(filepath.Join(root(t), "scripts", "*", "*.sh"))
	for _, f := range append(files, more...) {
		add(f)
	}
	o := parsed(t, fakePin(pinned))
	dir := t.TempDir()
	for kind, defs := range map[string]map[string]*orbtest.Definition{"command": o.Commands, "job": o.Jobs} {
		for name, d := range defs {
			for i, run := range runSteps(d.Steps) {
				cmd, _ := run["command"].(string)
				cmd = pack.Unescape(cmd) // what the shell runs
				f := filepath.Join(dir, fmt.Sprintf("%s_%s_step%d.sh", kind, name, i+1))
				if !strings.HasPrefix(cmd, "#!") {
					cmd = "#!/bin/bash\n" + cmd
				}
				writeFile(t, f, cmd)
				add(f)
			}
		}
	}
	if len(byShell["sh"]) == 0 {
		t.Error("no POSIX sh script found; install.sh should be one")
	}
	n := 0
	for shell, list := range byShell {
		sort.Strings(list)
		out, err := exec.Command(sc, append([]string{"--severity=style", "--shell=" + shell}, list...)...).CombinedOutput()
		if err != nil {
			t.Errorf("shellcheck --shell=%s: %v\n%s", shell, err, out)
		}
		n += len(list)
	}
	t.Logf("shellcheck: %d files (%d as POSIX sh)", n, len(byShell["sh"]))
}

// runSteps returns the bodies of the run steps in steps (map form; the
// string form becomes {command: ...}), descending into when/unless.
func runSteps(steps []any) []map[string]any {
	var out []map[string]any
	for _, s := range steps {
		m, ok := s.(map[string]any)
		if !ok {
			continue
		}
		for k, v := range m {
			switch k {
			case "run":
				switch b := v.(type) {
				case string:
					out = append(out, map[string]any{"command": b})
				case map[string]any:
					out = append(out, b)
				}
			case "when", "unless":
				if c, ok := v.(map[string]any); ok {
					if sub, ok := c["steps"].([]any); ok {
						out = append(out, runSteps(sub)...)
					}
				}
			}
		}
	}
	return out
}

type use struct {
	kind, name, where string
	args              map[string]any
}

// orbAlias is the key under which usage imports pmguard/pmguard.
func orbAlias(usage map[string]any) string {
	orbs, _ := usage["orbs"].(map[string]any)
	for alias, ref := range orbs {
		if s, ok := ref.(string); ok && strings.HasPrefix(s, "pmguard/pmguard@") {
			return alias
		}
	}
	return ""
}

// uses finds alias/<name> in a config: steps of jobs (commands), workflow
// jobs (jobs) and executors.
func uses(usage map[string]any, alias string) []use {
	var out []use
	prefix := alias + "/"
	var walkSteps func(where string, steps []any)
	walkSteps = func(where string, steps []any) {
		for i, s := range steps {
			w := fmt.Sprintf("%s.steps[%d]", where, i)
			switch x := s.(type) {
			case string:
				if strings.HasPrefix(x, prefix) {
					out = append(out, use{"command", strings.TrimPrefix(x, prefix), w, nil})
				}
			case map[string]any:
				for k, v := range x {
					if strings.HasPrefix(k, prefix) {
						args, _ := v.(map[string]any)
						out = append(out, use{"command", strings.TrimPrefix(k, prefix), w, args})
					}
					if k == "when" || k == "unless" {
						if c, ok := v.(map[string]any); ok {
							sub, _ := c["steps"].([]any)
							walkSteps(w+"."+k, sub)
						}
					}
				}
			}
		}
	}
	jobs, _ := usage["jobs"].(map[string]any)
	for name, j := range jobs {
		jm, _ := j.(map[string]any)
		steps, _ := jm["steps"].([]any)
		walkSteps("jobs."+name, steps)
		switch e := jm["executor"].(type) {
		case string:
			if strings.HasPrefix(e, prefix) {
				out = append(out, use{"executor", strings.TrimPrefix(e, prefix), "jobs." + name + ".executor", nil})
			}
		case map[string]any:
			n, _ := e["name"].(string)
			if strings.HasPrefix(n, prefix) {
				args := map[string]any{}
				for k, v := range e {
					if k != "name" {
						args[k] = v
					}
				}
				out = append(out, use{"executor", strings.TrimPrefix(n, prefix), "jobs." + name + ".executor", args})
			}
		}
	}
	workflows, _ := usage["workflows"].(map[string]any)
	for wname, w := range workflows {
		wm, _ := w.(map[string]any)
		list, _ := wm["jobs"].([]any)
		for i, j := range list {
			where := fmt.Sprintf("workflows.%s.jobs[%d]", wname, i)
			switch x := j.(type) {
			case string:
				if strings.HasPrefix(x, prefix) {
					out = append(out, use{"job", strings.TrimPrefix(x, prefix), where, nil})
				}
			case map[string]any:
				for k, v := range x {
					if !strings.HasPrefix(k, prefix) {
						continue
					}
					args := map[string]any{}
					vm, _ := v.(map[string]any)
					for ak, av := range vm {
						switch ak { // workflow-level keys, not job parameters
						case "name", "requires", "context", "filters", "matrix", "type", "pre-steps", "post-steps", "serial-group", "override-with":
						default:
							args[ak] = av
						}
					}
					out = append(out, use{"job", strings.TrimPrefix(k, prefix), where, args})
				}
			}
		}
	}
	return out
}

func readTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yml") {
			return err
		}
		data, err := os.ReadFile(p)
		b.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func firstLine(s string) string { return strings.SplitN(strings.TrimSpace(s), "\n", 2)[0] }

var _ = context.Background

// TestOrbSourcesUseNoAnchors keeps orb sources to plain YAML: no anchors
// (&name), aliases (*name) or merge keys (<<: *name). circleci orb pack
// and the orb registry expand them into copies anyway, and an alias
// silently shares one mapping between definitions that then drift apart
// when one of them is edited.
func TestOrbSourcesUseNoAnchors(t *testing.T) {
	n := 0
	err := filepath.WalkDir(srcDir(t), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
			return err
		}
		n++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, f := range anchorsAndAliases(t, b) {
			t.Errorf("%s: %s", strings.TrimPrefix(p, srcDir(t)+string(filepath.Separator)), f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no orb source files")
	}
	// The check itself.
	if got := anchorsAndAliases(t, []byte("a: &x {b: 1}\nc: *x\nd:\n  <<: *x\n")); len(got) != 4 {
		t.Errorf("anchorsAndAliases found %q, want the anchor, two aliases and the merge key", got)
	}
}

func anchorsAndAliases(t *testing.T, b []byte) []string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Anchor != "" {
			out = append(out, fmt.Sprintf("line %d: anchor &%s", n.Line, n.Anchor))
		}
		if n.Kind == yaml.AliasNode {
			out = append(out, fmt.Sprintf("line %d: alias *%s", n.Line, n.Value))
		}
		if n.Kind == yaml.ScalarNode && n.Tag == "!!merge" {
			out = append(out, fmt.Sprintf("line %d: merge key <<", n.Line))
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	return out
}

// TestRollbackStepsAreOneStep checks that rollback_auto's three run steps,
// one per value of its when parameter, differ in nothing but when.
func TestRollbackStepsAreOneStep(t *testing.T) {
	o := parsed(t, nil)
	runs := runSteps(o.Commands["rollback_auto"].Steps)
	if len(runs) != 3 {
		t.Fatalf("rollback_auto has %d run steps, want 3", len(runs))
	}
	whens := map[string]bool{}
	var first string
	for i, r := range runs {
		c := map[string]any{}
		for k, v := range r {
			c[k] = v
		}
		whens[fmt.Sprint(c["when"])] = true
		delete(c, "when")
		b, _ := yaml.Marshal(c)
		if i == 0 {
			first = string(b)
		} else if string(b) != first {
			t.Errorf("rollback step %d differs from the first beyond when:\n%s\nvs\n%s", i+1, b, first)
		}
	}
	if len(whens) != 3 || !whens["on_fail"] || !whens["always"] || !whens["on_success"] {
		t.Errorf("when values %v, want on_fail, always, on_success", whens)
	}
}
