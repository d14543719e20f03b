package orb_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/orb/orbtest"
	"github.com/pmguard/pmguard/orb/pack"
)

// TestProjectPipelineIsValid validates .circleci/config.yml against the
// CircleCI schema and checks that the release job runs on version tags only.
func TestProjectPipelineIsValid(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), ".circleci", "config.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := loadSchema(t).ValidateYAML(b); err != nil {
		t.Fatalf(".circleci/config.yml does not match the CircleCI schema:\n%v", err)
	}
	for _, want := range []string{"go test -race", "bash .ci/run", "scripts/release/build.sh", "scripts/orbpack", "circleci orb validate", "scripts/release/publish.sh"} {
		if !strings.Contains(string(b), want) {
			t.Errorf(".circleci/config.yml never runs %q", want)
		}
	}
}

// publishFixture is a dist/ directory for the host release of the pinned
// version, with the orb packed for it, and stub gh and circleci programs
// that record their arguments.
type publishFixture struct {
	dist, log, path string
}

func newPublishFixture(t *testing.T) publishFixture {
	t.Helper()
	r := buildReleases(t)
	f := publishFixture{dist: t.TempDir(), log: filepath.Join(t.TempDir(), "calls.log")}
	src := filepath.Join(r.dir, "v"+pinned)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(f.dist, e.Name()), string(b))
	}
	writeFile(t, filepath.Join(f.dist, "orb.yml"), string(packed(t, &pack.Pin{Version: pinned, Checksums: r.checksums[pinned]})))

	bin := t.TempDir()
	for _, tool := range []string{"gh", "circleci"} {
		// Each call logs its name, its arguments and whether a token reached
		// it through the environment.
		stub := "#!/bin/bash\n{ printf '%s' " + tool + "; printf ' %s' \"$@\"; printf ' token=%s\\n' \"${GH_TOKEN:+gh}${CIRCLECI_CLI_TOKEN:+cci}\"; } >> " + f.log + "\n"
		writeFile(t, filepath.Join(bin, tool), stub)
		if err := os.Chmod(filepath.Join(bin, tool), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.path = bin + string(os.PathListSeparator) + os.Getenv("PATH")
	return f
}

func (f publishFixture) run(t *testing.T) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root(t), "scripts", "release", "publish.sh"), "v"+pinned)
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), "PATH="+f.path, "DIST="+f.dist, "TARGETS="+orbtest.HostTarget(),
		"GH_TOKEN=gh-secret-123", "CIRCLECI_CLI_TOKEN=cci-secret-456")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (f publishFixture) calls() string {
	b, _ := os.ReadFile(f.log)
	return string(b)
}

func TestPublishReleasesBinariesThenOrb(t *testing.T) {
	f := newPublishFixture(t)
	out, err := f.run(t)
	if err != nil {
		t.Fatalf("publish: %v\n%s", err, out)
	}
	calls := strings.Split(strings.TrimSpace(f.calls()), "\n")
	if len(calls) != 3 {
		t.Fatalf("calls = %q, want gh release create, circleci orb validate, circleci orb publish", calls)
	}
	archive := filepath.Join(f.dist, pack.ArchiveName(pinned, strings.Split(orbtest.HostTarget(), "/")[0], strings.Split(orbtest.HostTarget(), "/")[1]))
	for _, want := range []string{"gh release create v" + pinned, archive, filepath.Join(f.dist, "checksums.txt"), filepath.Join(f.dist, "orb.yml")} {
		if !strings.Contains(calls[0], want) {
			t.Errorf("first call %q lacks %q", calls[0], want)
		}
	}
	if !strings.HasPrefix(calls[2], "circleci orb publish "+filepath.Join(f.dist, "orb.yml")+" pmguard/pmguard@"+pinned+" ") {
		t.Errorf("last call = %q, want the orb published as pmguard/pmguard@%s", calls[2], pinned)
	}
	for _, c := range calls {
		if strings.Contains(c, "secret") {
			t.Errorf("a token was passed on the command line: %q", c)
		}
		if !strings.HasSuffix(c, "token=ghcci") {
			t.Errorf("%q: the tools should get their tokens from the environment", c)
		}
	}
}

func TestPublishRefusesInconsistentRelease(t *testing.T) {
	cases := map[string]func(t *testing.T, f publishFixture){
		"orb pins another version": func(t *testing.T, f publishFixture) {
			writeFile(t, filepath.Join(f.dist, "orb.yml"), string(packed(t, nil)))
		},
		"archive does not match checksums": func(t *testing.T, f publishFixture) {
			archives, _ := filepath.Glob(filepath.Join(f.dist, "*.tar.gz"))
			writeFile(t, archives[0], "not the archive")
		},
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			f := newPublishFixture(t)
			spoil(t, f)
			out, err := f.run(t)
			if err == nil {
				t.Fatalf("publish passed:\n%s", out)
			}
			if c := f.calls(); c != "" {
				t.Errorf("publish called %q before refusing", c)
			}
		})
	}
}

// TestCIRunInstallsWhatTestsNeed checks .ci/run, the local CI entry: it
// installs exactly the Debian packages the tests need, without recommended
// packages, keeps the Mermaid step, and ends by running the README's test
// command after go mod download.
func TestCIRunInstallsWhatTestsNeed(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 || lines[len(lines)-1] != "go test -race ./..." {
		t.Errorf(".ci/run does not end with the README's test command `go test -race ./...`")
	}
	download := -1
	for i, l := range lines {
		if l == "go mod download" {
			download = i
		}
	}
	if download < 0 || download != len(lines)-2 {
		t.Errorf("go mod download is not run right before the tests (at %d of %d)", download, len(lines))
	}
	need := map[string]bool{}
	for _, m := range regexp.MustCompile(`need\+=\(([a-z0-9-]+)\)`).FindAllStringSubmatch(string(b), -1) {
		need[m[1]] = true
	}
	want := []string{"shellcheck", "prometheus", "postgresql", "chromium", "git", "wget", "yamllint", "busybox"}
	for _, p := range want {
		if !need[p] {
			t.Errorf(".ci/run does not install %s", p)
		}
		delete(need, p)
	}
	for p := range need {
		t.Errorf(".ci/run installs %s, which no test needs", p)
	}
	installs := 0
	for _, l := range lines {
		if strings.Contains(l, "apt-get install") {
			installs++
			if !strings.Contains(l, " -y ") || !strings.Contains(l, "--no-install-recommends") {
				t.Errorf("%q: want apt-get install -y --no-install-recommends", l)
			}
		}
	}
	if installs != 1 {
		t.Errorf(".ci/run has %d apt-get install lines, want 1", installs)
	}
	if !strings.Contains(string(b), "npm install") || !strings.Contains(string(b), "mermaid@11") || !strings.Contains(string(b), "PMGUARD_MERMAID_JS") {
		t.Error(".ci/run lost the Mermaid npm step")
	}
}
