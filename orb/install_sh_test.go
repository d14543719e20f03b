package orb_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmguard/pmguard/orb/orbtest"
	"github.com/pmguard/pmguard/orb/pack"
)

// The install script is POSIX sh so that it runs where CircleCI has no bash
// to run it with (Alpine and other BusyBox images run steps with /bin/sh).
// These tests run scripts/install.sh itself, as the compiled install step
// holds it, under each POSIX shell on the host, with the environment the
// install step gives it, against a loopback release server serving fake
// archives (a shell script named pmguard) and their checksums.

// fakeBinary is a pmguard that any sh can run.
func fakeBinary(version, commit string) string {
	return fmt.Sprintf("#!/bin/sh\necho 'pmguard %s (commit %s, built 2026-01-02T03:04:05Z)'\n", version, commit)
}

func tarGz(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(content)), ModTime: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(content))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fakeReleases serves pinned and other, each one host archive holding a
// fake pmguard, with checksums.txt.
type fakeReleases struct {
	dir    string
	sums   map[string]string // version -> archive SHA-256
	bins   map[string]string // version -> binary content
	server *orbtest.ReleaseServer
}

func archiveName(version string) string {
	return pack.ArchiveName(version, runtime.GOOS, runtime.GOARCH)
}

func newFakeReleases(t *testing.T) *fakeReleases {
	t.Helper()
	f := &fakeReleases{dir: t.TempDir(), sums: map[string]string{}, bins: map[string]string{}}
	for _, v := range []string{pinned, other} {
		f.bins[v] = fakeBinary(v, "fake")
		archive := tarGz(t, "pmguard", f.bins[v])
		f.sums[v] = sha256Hex(archive)
		writeFile(t, filepath.Join(f.dir, "v"+v, archiveName(v)), string(archive))
		writeFile(t, filepath.Join(f.dir, "v"+v, "checksums.txt"), f.sums[v]+"  "+archiveName(v)+"\n")
	}
	f.server = orbtest.NewReleaseServer(f.dir)
	t.Cleanup(f.server.Close)
	return f
}

// shell is a POSIX shell to run the script with, and the PATH it runs with.
type shell struct {
	name string
	argv []string
	path string // PATH for the script; "" the host's
}

// posixShells returns dash (Debian's /bin/sh), BusyBox sh with nothing but
// BusyBox's applets on PATH (as on Alpine: no bash, no curl, BusyBox wget),
// and dash with GNU wget instead of curl. In CI a missing shell fails.
func posixShells(t *testing.T) []shell {
	t.Helper()
	var out []shell
	need := func(name string) string {
		p, err := exec.LookPath(name)
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed (apt-get install --no-install-recommends %s)", name, name)
			}
			t.Logf("%s is not installed; its runs are skipped (CI fails here)", name)
		}
		return p
	}
	if dash := need("dash"); dash != "" {
		out = append(out, shell{name: "dash", argv: []string{dash}})
		if _, err := exec.LookPath("wget"); err == nil {
			out = append(out, shell{name: "dash+wget", argv: []string{dash}, path: pathWithout(t, "curl")})
		}
	}
	if bb := need("busybox"); bb != "" {
		list, err := exec.Command(bb, "--list").Output()
		if err != nil {
			t.Fatalf("busybox --list: %v", err)
		}
		dir := t.TempDir()
		for _, applet := range strings.Fields(string(list)) {
			if err := os.Symlink(bb, filepath.Join(dir, applet)); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, shell{name: "busybox", argv: []string{bb, "sh"}, path: dir})
	}
	if len(out) == 0 {
		t.Skip("no POSIX shell to test with")
	}
	return out
}

// shJob is a HOME, an install_dir and the install step's environment.
type shJob struct {
	t    *testing.T
	sh   shell
	rel  *fakeReleases
	home string
	env  map[string]string
	out  string
}

func newShJob(t *testing.T, sh shell, rel *fakeReleases) *shJob {
	home := t.TempDir()
	j := &shJob{t: t, sh: sh, rel: rel, home: home, env: map[string]string{
		"HOME":                       home,
		"BASH_ENV":                   filepath.Join(home, ".bash_env"),
		"PARAM_BASE_URL":             rel.server.URL,
		"PARAM_INSTALL_DIR":          "~/.local/bin",
		"PMGUARD_ORB_VERSION":        pinned,
		"PMGUARD_ORB_CHECKSUMS":      rel.sums[pinned] + "  " + archiveName(pinned) + "\n",
		"PMGUARD_INSTALL_RETRY_WAIT": "0",
		"PATH":                       os.Getenv("PATH"),
	}}
	if sh.path != "" {
		j.env["PATH"] = sh.path
	}
	return j
}

func (j *shJob) bin() string { return filepath.Join(j.home, ".local", "bin", "pmguard") }

func (j *shJob) kept(version string) string {
	return filepath.Join(j.home, ".cache", "pmguard", archiveName(version))
}

// run runs install.sh once with extra environment; it returns the exit
// status.
func (j *shJob) run(extra ...string) int {
	j.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	script := filepath.Join(srcDir(j.t), "scripts", "install.sh")
	cmd := exec.CommandContext(ctx, j.sh.argv[0], append(j.sh.argv[1:], script)...)
	cmd.Dir = j.home
	for k, v := range j.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, extra...)
	b, err := cmd.CombinedOutput()
	j.out = string(b)
	j.t.Logf("%s install.sh %v:\n%s", j.sh.name, extra, b)
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		j.t.Fatal(err)
	}
	return 0
}

// installed checks that install_dir holds version's release binary.
func (j *shJob) installed(version string) {
	j.t.Helper()
	b, err := os.ReadFile(j.bin())
	if err != nil {
		j.t.Fatalf("no pmguard installed: %v", err)
	}
	if string(b) != j.rel.bins[version] {
		j.t.Errorf("install_dir holds %q, not the %s release binary", b, version)
	}
	if fi, err := os.Stat(j.bin()); err != nil || fi.Mode().Perm()&0o111 == 0 {
		j.t.Errorf("pmguard is not executable: %v", err)
	}
}

func (j *shJob) want(substrings ...string) {
	j.t.Helper()
	for _, s := range substrings {
		if !strings.Contains(j.out, s) {
			j.t.Errorf("output lacks %q", s)
		}
	}
}

func (j *shJob) noneInstalled() {
	j.t.Helper()
	entries, _ := os.ReadDir(filepath.Dir(j.bin()))
	for _, e := range entries {
		j.t.Errorf("install_dir holds %s after a failed install", e.Name())
	}
}

func TestInstallScriptUnderPOSIXShells(t *testing.T) {
	cases := map[string]func(t *testing.T, j *shJob){
		"installs the pinned release, then skips": func(t *testing.T, j *shJob) {
			if rc := j.run(); rc != 0 {
				t.Fatalf("exit %d", rc)
			}
			j.installed(pinned)
			j.want("installed pmguard "+pinned, "SHA-256 verified against the checksums pinned in this orb")
			if _, err := os.Stat(j.kept(pinned)); err != nil {
				t.Errorf("verified archive not kept: %v", err)
			}
			env, _ := os.ReadFile(j.env["BASH_ENV"])
			if want := "export PATH='" + filepath.Dir(j.bin()) + "':\"$PATH\"\n"; string(env) != want {
				t.Errorf("$BASH_ENV = %q, want %q", env, want)
			}
			hits := j.rel.server.TotalHits()
			if rc := j.run(); rc != 0 {
				t.Fatalf("second run: exit %d", rc)
			}
			j.want("already installed")
			if n := j.rel.server.TotalHits() - hits; n != 0 {
				t.Errorf("second run made %d requests", n)
			}
			if env2, _ := os.ReadFile(j.env["BASH_ENV"]); string(env2) != string(env) {
				t.Errorf("$BASH_ENV changed on the second run: %q", env2)
			}
		},
		"refuses an archive that does not match": func(t *testing.T, j *shJob) {
			j.rel.server.Tamper("/v" + pinned + "/" + archiveName(pinned))
			if rc := j.run(); rc != 1 {
				t.Fatalf("exit %d, want 1", rc)
			}
			j.want("SHA-256 mismatch for "+archiveName(pinned), "nothing was installed")
			j.noneInstalled()
		},
		"replaces a poisoned binary": func(t *testing.T, j *shJob) {
			writeFile(t, j.bin(), fakeBinary(pinned, "evil"))
			os.Chmod(j.bin(), 0o755)
			if rc := j.run(); rc != 0 {
				t.Fatalf("exit %d", rc)
			}
			j.want("no verified archive vouches for it")
			j.installed(pinned)
			// Poisoned again after an install: the kept archive replaces it.
			writeFile(t, j.bin(), fakeBinary(pinned, "evil"))
			hits := j.rel.server.TotalHits()
			if rc := j.run(); rc != 0 {
				t.Fatalf("exit %d", rc)
			}
			j.want("its SHA-256 differs); replacing it")
			j.installed(pinned)
			if n := j.rel.server.TotalHits() - hits; n != 0 {
				t.Errorf("replacing from the kept archive made %d requests", n)
			}
		},
		"refuses another version without its sha256": func(t *testing.T, j *shJob) {
			if rc := j.run("PARAM_VERSION=" + other); rc != 1 {
				t.Fatalf("exit %d, want 1", rc)
			}
			j.want("not the version this orb pins ("+pinned+")", "sha256 parameter", "pmguard/pmguard@"+other)
			if n := j.rel.server.TotalHits(); n != 0 {
				t.Errorf("the refused install made %d requests", n)
			}
			if rc := j.run("PARAM_VERSION=v"+other, "PARAM_SHA256="+j.rel.sums[pinned]); rc != 1 {
				t.Fatalf("wrong sha256: exit %d, want 1", rc)
			}
			j.want("SHA-256 mismatch", "from the sha256 parameter")
			j.noneInstalled()
			if rc := j.run("PARAM_VERSION=v"+other, "PARAM_SHA256="+j.rel.sums[other]); rc != 0 {
				t.Fatalf("with its sha256: exit %d", rc)
			}
			j.installed(other)
		},
		"refuses an unpinned orb without a version": func(t *testing.T, j *shJob) {
			if rc := j.run("PMGUARD_ORB_VERSION=", "PMGUARD_ORB_CHECKSUMS="); rc != 1 {
				t.Fatalf("exit %d, want 1", rc)
			}
			j.want("version parameter")
		},
		"verifies a restored cache": func(t *testing.T, j *shJob) {
			// What restore_cache puts back: a good archive is used...
			good, err := os.ReadFile(filepath.Join(j.rel.dir, "v"+pinned, archiveName(pinned)))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, j.kept(pinned), string(good))
			if rc := j.run(); rc != 0 {
				t.Fatalf("exit %d", rc)
			}
			j.want("SHA-256 verified against the checksums pinned")
			j.installed(pinned)
			if n := j.rel.server.TotalHits(); n != 0 {
				t.Errorf("install from a good cache made %d requests", n)
			}
			// ...one that was tampered with is discarded and downloaded again,
			// and replaces the binary it would have vouched for.
			writeFile(t, j.kept(pinned), string(tarGz(t, "pmguard", fakeBinary(pinned, "evil"))))
			writeFile(t, j.bin(), fakeBinary(pinned, "evil"))
			if rc := j.run(); rc != 0 {
				t.Fatalf("exit %d", rc)
			}
			j.want("discarding "+j.kept(pinned), "downloading")
			j.installed(pinned)
			if b, _ := os.ReadFile(j.kept(pinned)); sha256Hex(b) != j.rel.sums[pinned] {
				t.Error("the kept archive is not the verified one after the download")
			}
		},
		"retries a 503 and gives up on a 404": func(t *testing.T, j *shJob) {
			path := "/v" + pinned + "/" + archiveName(pinned)
			j.rel.server.Fail(path, 503)
			if rc := j.run(); rc != 0 {
				t.Fatalf("exit %d", rc)
			}
			if n := j.rel.server.Hits(path); n != 2 {
				t.Errorf("archive requested %d times, want 2 (a 503, then the file)", n)
			}
			j.installed(pinned)
			before := j.rel.server.TotalHits()
			if rc := j.run("PARAM_VERSION=9.9.9", "PARAM_SHA256="+strings.Repeat("0", 64)); rc != 1 {
				t.Fatalf("missing release: exit %d, want 1", rc)
			}
			j.want("404", "will not succeed on retry")
			if n := j.rel.server.TotalHits() - before; n != 1 {
				t.Errorf("a 404 was requested %d times, want 1", n)
			}
		},
		"downloads through the proxy HTTPS_PROXY names": func(t *testing.T, j *shJob) {
			proxy := newRecordingProxy(t)
			j.env["PARAM_BASE_URL"] = "https://releases.invalid/pmguard"
			if rc := j.run("HTTPS_PROXY="+proxy.URL, "PMGUARD_INSTALL_ATTEMPTS=1"); rc != 1 {
				t.Fatalf("exit %d, want 1 (the proxy answers 502)", rc)
			}
			if got := proxy.requests(); len(got) != 1 || !strings.Contains(got[0], "releases.invalid") {
				t.Errorf("the proxy saw %q, want the one request for releases.invalid", got)
			}
			j.noneInstalled()
		},
		"goes direct to a host NO_PROXY lists": func(t *testing.T, j *shJob) {
			proxy := newRecordingProxy(t)
			if rc := j.run("http_proxy="+proxy.URL, "HTTPS_PROXY="+proxy.URL, "NO_PROXY=example.com,127.0.0.1"); rc != 0 {
				t.Fatalf("exit %d", rc)
			}
			j.installed(pinned)
			if got := proxy.requests(); len(got) != 0 {
				t.Errorf("the proxy saw %q, want nothing: the release server is in NO_PROXY", got)
			}
		},
		"refuses Windows": func(t *testing.T, j *shJob) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "uname"), "#!/bin/sh\ncase \"$1\" in -s) echo MSYS_NT-10.0-20348 ;; *) echo x86_64 ;; esac\n")
			os.Chmod(filepath.Join(dir, "uname"), 0o755)
			j.env["PATH"] = dir + string(os.PathListSeparator) + j.env["PATH"]
			if rc := j.run(); rc != 1 {
				t.Fatalf("exit %d, want 1", rc)
			}
			j.want("Windows executors are not supported (MSYS_NT-10.0-20348)", "Linux and macOS")
		},
	}
	for _, sh := range posixShells(t) {
		t.Run(sh.name, func(t *testing.T) {
			for name, c := range cases {
				t.Run(name, func(t *testing.T) {
					c(t, newShJob(t, sh, newFakeReleases(t)))
				})
			}
			if sh.name == "busybox" {
				// No bash on PATH: later steps would not read $BASH_ENV.
				j := newShJob(t, sh, newFakeReleases(t))
				if rc := j.run(); rc != 0 {
					t.Fatalf("exit %d", rc)
				}
				j.want("this image has no bash", "/usr/local/bin")
				dir := t.TempDir()
				j2 := newShJob(t, sh, newFakeReleases(t))
				j2.env["PATH"] = dir + ":" + sh.path
				j2.env["PARAM_INSTALL_DIR"] = dir
				if rc := j2.run(); rc != 0 {
					t.Fatalf("exit %d", rc)
				}
				if strings.Contains(j2.out, "no bash") {
					t.Error("warned about $BASH_ENV although install_dir is on PATH")
				}
			}
		})
	}
}

// recordingProxy is an HTTP proxy on loopback that records each request
// (CONNECT host:port, or the absolute URL a plain proxy request names) and
// answers 502.
type recordingProxy struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newRecordingProxy(t *testing.T) *recordingProxy {
	p := &recordingProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.Host+" "+r.URL.String())
		p.mu.Unlock()
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *recordingProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}
