package orb_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmguard/pmguard/orb/orbtest"
	"github.com/pmguard/pmguard/orb/pack"
)

// releases builds (once per test binary) the pinned and another release
// for the host with the project's release script.
type releases struct {
	dir       string // served as base_url: v<version>/...
	checksums map[string][]byte
}

var (
	relOnce sync.Once
	rel     releases
	relErr  error
)

func buildReleases(t *testing.T) releases {
	t.Helper()
	relOnce.Do(func() {
		rel = releases{dir: filepath.Join(workDir, "releases"), checksums: map[string][]byte{}}
		// A bound for a hung build, not a goal: a cold build cache on a
		// machine busy with the other packages' tests takes minutes.
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		for _, v := range []string{pinned, other} {
			sums, err := orbtest.BuildRelease(ctx, repoRoot, rel.dir, v)
			if err != nil {
				relErr = err
				return
			}
			rel.checksums[v] = sums
		}
	})
	if relErr != nil {
		t.Fatal(relErr)
	}
	return rel
}

// harness is one job of a user's pipeline with the orb packed for the
// pinned release and a release server on loopback.
type harness struct {
	job    *orbtest.Job
	server *orbtest.ReleaseServer
	ctx    context.Context
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	root(t)
	r := buildReleases(t)
	o, err := orbtest.Parse(packed(t, &pack.Pin{Version: pinned, Checksums: r.checksums[pinned]}))
	if err != nil {
		t.Fatal(err)
	}
	srv := orbtest.NewReleaseServer(r.dir)
	t.Cleanup(srv.Close)
	job := orbtest.NewJob(t, o)
	job.Env["PMGUARD_INSTALL_RETRY_WAIT"] = "0" // retries without waiting
	h := &harness{job: job, server: srv}
	h.deadline(t)
	return h
}

// deadline gives the job's steps two minutes from now, until t ends: a
// table of cases sharing one harness sets it per case, so that the cases
// before (slow on a loaded machine) do not use up the later ones' time.
func (h *harness) deadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	h.ctx = ctx
}

func (h *harness) installDir() string { return filepath.Join(h.job.Home, ".local", "bin") }

func (h *harness) install(args map[string]any) error {
	if args == nil {
		args = map[string]any{}
	}
	args["base_url"] = h.server.URL
	return h.job.Run(h.ctx, "install", args)
}

// pmguardVersion runs `pmguard version` as a later step of the job would,
// finding pmguard on PATH through $BASH_ENV.
func (h *harness) pmguardVersion(t *testing.T) string {
	t.Helper()
	if err := h.job.RunSteps(h.ctx, map[string]any{"run": map[string]any{"name": "version", "command": "command -v pmguard\npmguard version", "when": "always"}}); err != nil {
		t.Fatalf("pmguard is not usable after install: %v", err)
	}
	if last := h.job.LastRun(); last == nil || last.Name != "version" {
		t.Fatal("the version step did not run")
	}
	return h.job.LastRun().Output
}

func TestInstallVerifiesAndSkipsWhenInstalled(t *testing.T) {
	h := newHarness(t)
	if err := h.install(nil); err != nil {
		t.Fatalf("install: %v\n%s", err, h.job.LastRun().Output)
	}
	out := h.pmguardVersion(t)
	if !strings.Contains(out, filepath.Join(h.installDir(), "pmguard")) || !strings.Contains(out, "pmguard "+pinned+" ") {
		t.Errorf("after install, `command -v pmguard; pmguard version` printed %q; want %s/pmguard reporting %s", out, h.installDir(), pinned)
	}
	if n := h.server.Hits(orbtest.ArchivePath(pinned)); n != 1 {
		t.Errorf("archive downloaded %d times, want 1", n)
	}
	if n := h.server.Hits("/v" + pinned + "/checksums.txt"); n != 0 {
		t.Errorf("checksums.txt downloaded %d times for the pinned version; want 0 (the orb embeds them)", n)
	}

	// A second install in the same job (every command runs install) must
	// not download anything.
	before := h.server.TotalHits()
	if err := h.install(nil); err != nil {
		t.Fatalf("second install: %v", err)
	}
	if n := h.server.TotalHits() - before; n != 0 {
		t.Errorf("second install made %d requests, want 0", n)
	}
	if out := h.job.LastRun().Output; !strings.Contains(out, "already installed") {
		t.Errorf("second install said %q, want it to say pmguard is already installed", out)
	}
	bashEnv, err := os.ReadFile(h.job.BashEnv())
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(bashEnv), "export PATH="); n != 1 {
		t.Errorf("$BASH_ENV holds %d PATH exports after two installs, want 1:\n%s", n, bashEnv)
	}
}

func TestInstallFailsClosedOnTamperedArchive(t *testing.T) {
	for name, tamper := range map[string]func(*orbtest.ReleaseServer){
		// A corrupted download.
		"flipped byte": func(s *orbtest.ReleaseServer) { s.Tamper(orbtest.ArchivePath(pinned)) },
		// A well-formed archive holding another binary: only the
		// checksum tells it apart.
		"other binary": func(s *orbtest.ReleaseServer) { s.Swap(orbtest.ArchivePath(pinned), orbtest.ArchivePath(other)) },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			tamper(h.server)
			checkFailsClosed(t, h)
		})
	}
}

func checkFailsClosed(t *testing.T, h *harness) {
	t.Helper()
	err := h.install(nil)
	if err == nil {
		t.Fatal("install of a tampered archive passed")
	}
	out := h.job.LastRun().Output
	if !strings.Contains(out, "SHA-256 mismatch") {
		t.Errorf("output %q does not report the SHA-256 mismatch", out)
	}
	entries, _ := os.ReadDir(h.installDir())
	for _, e := range entries {
		t.Errorf("install_dir holds %s after a failed install; want nothing", e.Name())
	}
	// Later steps must not find a pmguard either.
	if err := h.job.RunSteps(h.ctx, map[string]any{"run": map[string]any{"command": "! command -v pmguard", "when": "always"}}); err != nil {
		t.Errorf("a pmguard is on PATH after a failed install: %s", h.job.LastRun().Output)
	}
}

// hostSum is the SHA-256 of version's host archive, from its checksums.txt.
func hostSum(t *testing.T, version string) string {
	t.Helper()
	sums, err := pack.ParseChecksums(buildReleases(t).checksums[version])
	if err != nil {
		t.Fatal(err)
	}
	goos, goarch, _ := strings.Cut(orbtest.HostTarget(), "/")
	sum := sums[pack.ArchiveName(version, goos, goarch)]
	if sum == "" {
		t.Fatalf("no host archive in %s's checksums", version)
	}
	return sum
}

// A version the orb does not pin is installed only against a SHA-256 the
// user gives; nothing is fetched to find one.
func TestInstallOtherVersionNeedsItsSHA256(t *testing.T) {
	refused := newHarness(t)
	if err := refused.install(map[string]any{"version": other}); err == nil {
		t.Fatalf("install of %s without sha256 passed", other)
	}
	out := refused.job.LastRun().Output
	for _, want := range []string{"not the version this orb pins (" + pinned + ")", "sha256 parameter", "/v" + other + "/checksums.txt", "pmguard/pmguard@" + other} {
		if !strings.Contains(out, want) {
			t.Errorf("refusal %q does not say %q", out, want)
		}
	}
	if n := refused.server.TotalHits(); n != 0 {
		t.Errorf("the refused install made %d requests, want 0", n)
	}

	h := newHarness(t)
	if err := h.install(map[string]any{"version": other, "sha256": strings.ToUpper(hostSum(t, other))}); err != nil {
		t.Fatalf("install %s with its sha256: %v\n%s", other, err, h.job.LastRun().Output)
	}
	if n := h.server.Hits("/v" + other + "/checksums.txt"); n != 0 {
		t.Errorf("checksums.txt of %s downloaded %d times, want 0", other, n)
	}
	if out := h.pmguardVersion(t); !strings.Contains(out, "pmguard "+other+" (commit") {
		t.Errorf("pmguard version = %q, want %s", out, other)
	}
	// Back to the pinned version: the installed binary is not the pinned
	// release, so the pinned one is downloaded and replaces it.
	if err := h.install(nil); err != nil {
		t.Fatalf("install pinned: %v", err)
	}
	if n := h.server.Hits(orbtest.ArchivePath(pinned)); n != 1 {
		t.Errorf("pinned archive downloaded %d times, want 1", n)
	}
	if out := h.pmguardVersion(t); !strings.Contains(out, "pmguard "+pinned+" (commit") {
		t.Errorf("pmguard version = %q, want %s", out, pinned)
	}
	// A sha256 given for the pinned version must be the pinned one.
	if err := h.install(map[string]any{"sha256": hostSum(t, other)}); err == nil || !strings.Contains(h.job.LastRun().Output, "not the SHA-256 this orb pins") {
		t.Errorf("a sha256 that contradicts the pin: err = %v, output %q", err, h.job.LastRun().Output)
	}
}

func TestInstallOtherVersionWrongSHA256Fails(t *testing.T) {
	for name, spoil := range map[string]func(h *harness) string{
		"tampered archive": func(h *harness) string {
			h.server.Tamper(orbtest.ArchivePath(other))
			return hostSum(t, other)
		},
		"sha256 of another archive": func(h *harness) string { return hostSum(t, pinned) },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			sum := spoil(h)
			if err := h.install(map[string]any{"version": other, "sha256": sum}); err == nil {
				t.Fatal("install passed with an archive that does not match the sha256 parameter")
			}
			if out := h.job.LastRun().Output; !strings.Contains(out, "SHA-256 mismatch") || !strings.Contains(out, "sha256 parameter") {
				t.Errorf("output %q does not report the mismatch against the sha256 parameter", out)
			}
			if entries, _ := os.ReadDir(h.installDir()); len(entries) != 0 {
				t.Errorf("install_dir is not empty after a failed install: %v", entries)
			}
		})
	}
}

// A pmguard already in install_dir is kept only when its computed SHA-256
// is the verified release's: one that claims the right version is still
// replaced.
func TestInstallReplacesPoisonedBinary(t *testing.T) {
	poison := "#!/bin/sh\necho 'pmguard " + pinned + " (commit evil, built now)'\necho POISON >&2\n"
	t.Run("before any install", func(t *testing.T) {
		h := newHarness(t)
		writeFile(t, filepath.Join(h.installDir(), "pmguard"), poison)
		os.Chmod(filepath.Join(h.installDir(), "pmguard"), 0o755)
		if err := h.install(nil); err != nil {
			t.Fatalf("install: %v\n%s", err, h.job.LastRun().Output)
		}
		if out := h.job.LastRun().Output; strings.Contains(out, "already installed") || !strings.Contains(out, "no verified archive vouches for it") {
			t.Errorf("install output %q; want the unverified binary replaced", out)
		}
		if n := h.server.Hits(orbtest.ArchivePath(pinned)); n != 1 {
			t.Errorf("archive downloaded %d times, want 1", n)
		}
		checkReal(t, h)
	})
	t.Run("after an install", func(t *testing.T) {
		h := newHarness(t)
		if err := h.install(nil); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(h.installDir(), "pmguard"), poison)
		if err := h.install(nil); err != nil {
			t.Fatalf("install: %v\n%s", err, h.job.LastRun().Output)
		}
		if out := h.job.LastRun().Output; !strings.Contains(out, "its SHA-256 differs); replacing it") {
			t.Errorf("install output %q; want the poisoned binary replaced", out)
		}
		// The verified archive kept by the first install serves again.
		if n := h.server.Hits(orbtest.ArchivePath(pinned)); n != 1 {
			t.Errorf("archive downloaded %d times, want 1 (the kept archive is reused)", n)
		}
		checkReal(t, h)
	})
}

// checkReal checks that install_dir holds the binary of the pinned release.
func checkReal(t *testing.T, h *harness) {
	t.Helper()
	out := h.pmguardVersion(t)
	if strings.Contains(out, "evil") || !strings.Contains(out, "pmguard "+pinned+" (commit test") {
		t.Errorf("pmguard version = %q, want the real %s", out, pinned)
	}
}

// With cache true the verified archive is saved with save_cache and a later
// job restores it instead of downloading, verifying it again: a cache that
// was tampered with is discarded and the archive downloaded afresh.
func TestInstallCacheIsVerifiedAfterRestore(t *testing.T) {
	first := newHarness(t)
	if err := first.install(map[string]any{"cache": true}); err != nil {
		t.Fatalf("install: %v\n%s", err, first.job.LastRun().Output)
	}
	entries := first.job.Cache.Entries()
	if len(entries) != 1 {
		t.Fatalf("cache entries %+v, want one saved", entries)
	}
	pin := pack.CacheKeyPin(&pack.Pin{Version: pinned, Checksums: buildReleases(t).checksums[pinned]})
	if key := entries[0].Key; !strings.HasPrefix(key, "pmguard-install-v1-arch1-") || !strings.Contains(key, pin+pinned+"-") {
		t.Errorf("cache key %q, want the architecture, the pin %q and the version", key, pin)
	}

	// A later job of the same project: restored, verified, no download.
	second := newHarness(t)
	second.job.Cache = first.job.Cache
	if err := second.install(map[string]any{"cache": true}); err != nil {
		t.Fatalf("install from the cache: %v\n%s", err, second.job.LastRun().Output)
	}
	if n := second.server.TotalHits(); n != 0 {
		t.Errorf("install with a restored cache made %d requests, want 0", n)
	}
	if out := second.job.LastRun().Output; !strings.Contains(out, "SHA-256 verified against the checksums pinned") {
		t.Errorf("output %q does not say the restored archive was verified", out)
	}
	checkReal(t, second)

	// The stored archive is swapped for another release's: discarded.
	goos, goarch, _ := strings.Cut(orbtest.HostTarget(), "/")
	stored := filepath.Join(entries[0].Dir, "home", ".cache", "pmguard", pack.ArchiveName(pinned, goos, goarch))
	otherArchive, err := os.ReadFile(filepath.Join(buildReleases(t).dir, "v"+other, pack.ArchiveName(other, goos, goarch)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stored, otherArchive, 0o644); err != nil {
		t.Fatal(err)
	}
	third := newHarness(t)
	third.job.Cache = first.job.Cache
	if err := third.install(map[string]any{"cache": true}); err != nil {
		t.Fatalf("install with a tampered cache: %v\n%s", err, third.job.LastRun().Output)
	}
	if out := third.job.LastRun().Output; !strings.Contains(out, "discarding") {
		t.Errorf("output %q does not say the restored archive was discarded", out)
	}
	if n := third.server.Hits(orbtest.ArchivePath(pinned)); n != 1 {
		t.Errorf("archive downloaded %d times after a tampered cache, want 1", n)
	}
	checkReal(t, third)
}

// Windows executors are refused with a message naming what is supported.
func TestInstallRefusesWindows(t *testing.T) {
	h := newHarness(t)
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "uname"), "#!/bin/sh\ncase \"$1\" in -s) echo MINGW64_NT-10.0-20348 ;; *) echo x86_64 ;; esac\n")
	os.Chmod(filepath.Join(bin, "uname"), 0o755)
	h.job.Env["PATH"] = bin + string(os.PathListSeparator) + os.Getenv("PATH")
	if err := h.install(nil); err == nil {
		t.Fatal("install on Windows passed")
	}
	out := h.job.LastRun().Output
	for _, want := range []string{"Windows executors are not supported", "Linux and macOS", "amd64 and arm64"} {
		if !strings.Contains(out, want) {
			t.Errorf("refusal %q lacks %q", out, want)
		}
	}
	if h.server.TotalHits() != 0 {
		t.Error("the refused install downloaded something")
	}
}

func TestInstallRetriesTransientFailures(t *testing.T) {
	h := newHarness(t)
	h.server.Fail(orbtest.ArchivePath(pinned), http.StatusServiceUnavailable, http.StatusBadGateway)
	if err := h.install(nil); err != nil {
		t.Fatalf("install after two 5xx: %v\n%s", err, h.job.LastRun().Output)
	}
	if n := h.server.Hits(orbtest.ArchivePath(pinned)); n != 3 {
		t.Errorf("archive requested %d times, want 3 (two failures, then the file)", n)
	}
}

func TestInstallGivesUpOnMissingRelease(t *testing.T) {
	h := newHarness(t)
	err := h.install(map[string]any{"version": "9.9.9", "sha256": strings.Repeat("ab", 32)})
	if err == nil {
		t.Fatal("install of a release that does not exist passed")
	}
	if n := h.server.Hits(orbtest.ArchivePath("9.9.9")); n != 1 {
		t.Errorf("a 404 was requested %d times, want 1 (not worth retrying)", n)
	}
	if out := h.job.LastRun().Output; !strings.Contains(out, "404") {
		t.Errorf("output %q does not say the server answered 404", out)
	}
}

func TestInstallBoundsRetries(t *testing.T) {
	h := newHarness(t)
	h.job.Env["PMGUARD_INSTALL_ATTEMPTS"] = "3"
	h.server.Fail(orbtest.ArchivePath(pinned), 503, 503, 503, 503, 503)
	if err := h.install(nil); err == nil {
		t.Fatal("install passed although every attempt failed")
	}
	if n := h.server.Hits(orbtest.ArchivePath(pinned)); n != 3 {
		t.Errorf("archive requested %d times, want 3 attempts", n)
	}
	if out := h.job.LastRun().Output; !strings.Contains(out, "after 3 attempts") {
		t.Errorf("output %q does not say it gave up after 3 attempts", out)
	}
}

func TestInstallWithWgetOnly(t *testing.T) {
	if _, err := exec.LookPath("wget"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("wget is not installed (apt-get install wget)")
		}
		t.Skip("wget is not installed")
	}
	h := newHarness(t)
	h.job.Env["PATH"] = pathWithout(t, "curl")
	if err := h.install(nil); err != nil {
		t.Fatalf("install with wget: %v\n%s", err, h.job.LastRun().Output)
	}
	if n := h.server.Hits(orbtest.ArchivePath(pinned)); n != 1 {
		t.Errorf("archive requested %d times, want 1", n)
	}
	if out := h.pmguardVersion(t); !strings.Contains(out, "pmguard "+pinned+" ") {
		t.Errorf("pmguard version = %q", out)
	}
}

func TestInstallUnpinnedOrbNeedsVersion(t *testing.T) {
	h := newHarness(t)
	o, err := orbtest.Parse(packed(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	h.job.Orb = o
	if err := h.install(nil); err == nil {
		t.Fatal("an unpinned orb installed something without a version")
	}
	if out := h.job.LastRun().Output; !strings.Contains(out, "version parameter") {
		t.Errorf("output %q does not tell the user to set the version parameter", out)
	}
}

// pathWithout returns a PATH of one directory holding links to every
// program on the host PATH except the named ones.
func pathWithout(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	skip := map[string]bool{}
	for _, n := range names {
		skip[n] = true
	}
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			link := filepath.Join(dir, e.Name())
			if skip[e.Name()] {
				continue
			}
			if _, err := os.Lstat(link); err == nil {
				continue // an earlier PATH entry wins
			}
			os.Symlink(filepath.Join(d, e.Name()), link)
		}
	}
	return dir
}

// endpoint is a loopback health endpoint whose answers are scripted by
// request count, so "healthy after a delay" needs no sleeps.
type endpoint struct {
	*httptest.Server
	hits atomic.Int64
}

func newEndpoint(t *testing.T, status func(n int64, r *http.Request) int) *endpoint {
	t.Helper()
	e := &endpoint{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := e.hits.Add(1)
		code := status(n, r)
		w.WriteHeader(code)
		w.Write([]byte(`{"status":"` + strconv.Itoa(code) + `"}`))
	}))
	t.Cleanup(e.Close)
	return e
}

func (h *harness) healthCheck(args map[string]any) error {
	args["base_url"] = h.server.URL
	if _, ok := args["interval"]; !ok {
		args["interval"] = "50ms"
	}
	if _, ok := args["timeout"]; !ok {
		args["timeout"] = "2s"
	}
	dir := filepath.Join(h.job.Dir, "reports")
	args["junit_path"] = filepath.Join(dir, "junit.xml")
	args["report_path"] = filepath.Join(dir, "report.json")
	args["events_file"] = filepath.Join(dir, "events.jsonl")
	return h.job.Run(h.ctx, "health_check", args)
}

func (h *harness) readReport(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.job.Dir, "reports", name))
	if err != nil {
		t.Fatalf("report %s: %v", name, err)
	}
	return string(b)
}

// checkStored asserts the JUnit report and the artifacts were stored (they
// are, whether the check passed or not).
func (h *harness) checkStored(t *testing.T) {
	t.Helper()
	results := h.job.Stored("store_test_results")
	if len(results) != 1 || !results[0].Exists || filepath.Base(results[0].Path) != "junit.xml" {
		t.Errorf("store_test_results = %+v, want the existing junit.xml", results)
	}
	arts := h.job.Stored("store_artifacts")
	want := map[string]bool{"report.json": false, "events.jsonl": false}
	for _, a := range arts {
		if _, ok := want[filepath.Base(a.Path)]; ok {
			want[filepath.Base(a.Path)] = a.Exists
		}
	}
	for name, ok := range want {
		if !ok {
			t.Errorf("%s was not stored as an existing artifact (stored: %+v)", name, arts)
		}
	}
}

func TestHealthCheckHealthy(t *testing.T) {
	h := newHarness(t)
	api := newEndpoint(t, func(int64, *http.Request) int { return 200 })
	db := newEndpoint(t, func(int64, *http.Request) int { return 204 })
	err := h.healthCheck(map[string]any{
		"endpoints": api.URL + "/health 200\n" + db.URL + "/db/health 204\n",
		"retries":   1,
	})
	if err != nil {
		t.Fatalf("health_check of healthy endpoints failed: %v\n%s", err, h.job.LastRun().Output)
	}
	h.checkStored(t)
	junit := h.readReport(t, "junit.xml")
	if strings.Count(junit, "<testcase") != 2 || strings.Contains(junit, "<failure") {
		t.Errorf("junit.xml should hold 2 passing cases:\n%s", junit)
	}
	// The orb exports pipeline.id, so every event names its pipeline.
	events := h.readReport(t, "events.jsonl")
	lines := strings.Split(strings.TrimSpace(events), "\n")
	for _, line := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		if ev["pipeline_id"] != h.job.Pipeline["id"] {
			t.Errorf("event %s has pipeline_id %v, want %s", line, ev["pipeline_id"], h.job.Pipeline["id"])
		}
	}
}

func TestHealthCheckHealthyAfterDelay(t *testing.T) {
	h := newHarness(t)
	warming := newEndpoint(t, func(n int64, _ *http.Request) int {
		if n <= 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	if err := h.healthCheck(map[string]any{"endpoints": warming.URL + "/health", "retries": 6}); err != nil {
		t.Fatalf("health_check failed although the endpoint turned healthy: %v\n%s", err, h.job.LastRun().Output)
	}
	if n := warming.hits.Load(); n < 4 {
		t.Errorf("endpoint saw %d requests, want at least 4 (3 failures, then healthy)", n)
	}
	h.checkStored(t)
}

func TestHealthCheckNeverHealthy(t *testing.T) {
	h := newHarness(t)
	down := newEndpoint(t, func(int64, *http.Request) int { return http.StatusServiceUnavailable })
	err := h.healthCheck(map[string]any{"endpoints": down.URL + "/health", "retries": 2})
	se, ok := err.(*orbtest.StepError)
	if !ok {
		t.Fatalf("health_check of an endpoint that stays down: err = %v, want a failed step", err)
	}
	if se.Step.Exit != 1 {
		t.Errorf("exit %d, want 1 (verdict fail)", se.Step.Exit)
	}
	if n := down.hits.Load(); n != 3 {
		t.Errorf("endpoint saw %d requests, want 3 (the first + 2 retries)", n)
	}
	if !strings.Contains(se.Step.Output, down.URL) || !strings.Contains(se.Step.Output, "503") {
		t.Errorf("output does not name the endpoint and its 503:\n%s", se.Step.Output)
	}
	h.checkStored(t)
	if junit := h.readReport(t, "junit.xml"); !strings.Contains(junit, "<failure") {
		t.Errorf("junit.xml of a failed check has no failure:\n%s", junit)
	}
}

func TestHealthCheckWrongStatus(t *testing.T) {
	h := newHarness(t)
	missing := newEndpoint(t, func(int64, *http.Request) int { return http.StatusNotFound })
	err := h.healthCheck(map[string]any{"endpoints": missing.URL + "/health", "retries": 1, "expected_status": "2xx"})
	se, ok := err.(*orbtest.StepError)
	if !ok || se.Step.Exit != 1 {
		t.Fatalf("health_check of a 404 with expected 2xx: err = %v, want exit 1", err)
	}
	if !strings.Contains(se.Step.Output, "404") {
		t.Errorf("output does not say the endpoint answered 404:\n%s", se.Step.Output)
	}
}

func TestHealthCheckBadInput(t *testing.T) {
	h := newHarness(t)
	ep := newEndpoint(t, func(int64, *http.Request) int { return 200 })
	err := h.healthCheck(map[string]any{"endpoints": ep.URL, "interval": "10x"})
	se, ok := err.(*orbtest.StepError)
	if !ok || se.Step.Exit != 2 {
		t.Fatalf("interval 10x: err = %v, want exit 2", err)
	}
	if !strings.Contains(se.Step.Output, "PMGUARD_HEALTH_INTERVAL") {
		t.Errorf("output does not name the env var of the bad parameter:\n%s", se.Step.Output)
	}
	if n := ep.hits.Load(); n != 0 {
		t.Errorf("endpoint saw %d requests; bad input must stop before any", n)
	}
}

func TestHealthCheckSecretHeaderStaysSecret(t *testing.T) {
	h := newHarness(t)
	const secret = "s3cr3t-token-4a7f9c"
	h.job.Env["API_TOKEN"] = secret
	ep := newEndpoint(t, func(_ int64, r *http.Request) int {
		if r.Header.Get("Authorization") != "Bearer "+secret || r.Header.Get("X-Probe") != "a b*c" {
			return http.StatusUnauthorized
		}
		return http.StatusOK
	})
	err := h.healthCheck(map[string]any{
		"endpoints": ep.URL + "/private",
		"headers":   "Authorization: Bearer ${API_TOKEN}\nX-Probe: a b*c\n",
		"retries":   0,
	})
	if err != nil {
		t.Fatalf("health_check with a header from the environment failed: %v\n%s", err, h.job.LastRun().Output)
	}
	for _, s := range h.job.Steps {
		if strings.Contains(s.Output, secret) {
			t.Errorf("step %q printed the secret", s.Name)
		}
	}
	for _, name := range []string{"junit.xml", "report.json", "events.jsonl"} {
		if strings.Contains(h.readReport(t, name), secret) {
			t.Errorf("%s holds the secret", name)
		}
	}
}

var helpEnvRe = regexp.MustCompile(`\(env (PMGUARD_[A-Z0-9_]+)(?:, default ("(?:[^"\\]|\\.)*"))?(?:; (.*)\)$)?`)

// durationForm is the accepted form, in --help, of a setting that takes a
// duration; durationSaid is a parameter description that says so (the
// word, or a value with its unit such as 30s or 3d).
var (
	durationForm = regexp.MustCompile(`Go duration|days or weeks`)
	durationSaid = regexp.MustCompile(`(?i)duration|\b[0-9]+(ms|s|m|h|d|w)\b`)
)

// helpGroupRe is a group's heading in a verb's --help ("Deploy markers:").
var helpGroupRe = regexp.MustCompile(`^([A-Z][A-Za-z ]*):$`)

// markerOnlyGroups are the settings `pmguard canary --promotion` reads: it
// judges nothing, and records the promotion on the deploy marker found in
// the event log.
var markerOnlyGroups = map[string]bool{"Deploy markers": true, "Event log": true, "Output": true}

// TestCommandsMatchVerbSettings checks every orb command or job that runs
// `pmguard <verb>` against `pmguard <verb> --help`: each PMGUARD_* variable
// it sets is a setting of the verb, each setting of the verb has an orb
// parameter, and a parameter's default is the verb's own default, so the
// orb and the binary cannot drift apart.
func TestCommandsMatchVerbSettings(t *testing.T) {
	h := newHarness(t)
	if err := h.install(nil); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(h.installDir(), "pmguard")
	verbRe := regexp.MustCompile(`^pmguard ([a-z]+)\b`)
	checked := 0
	for kind, defs := range map[string]map[string]*orbtest.Definition{"command": h.job.Orb.Commands, "job": h.job.Orb.Jobs} {
		for name, d := range defs {
			for _, run := range runSteps(d.Steps) {
				cmd, _ := run["command"].(string)
				m := verbRe.FindStringSubmatch(strings.TrimSpace(cmd))
				if m == nil || m[1] == "version" {
					continue
				}
				verb := m[1]
				where := kind + " " + name
				help, err := exec.Command(bin, verb, "--help").Output()
				if err != nil {
					t.Logf("%s: pmguard %s --help failed (%v): the verb is not built yet, skipping its check", where, verb, err)
					continue
				}
				checked++
				settings := map[string]string{} // env var -> default ("" none)
				group := map[string]string{}    // env var -> its --help group
				form := map[string]string{}     // env var -> its accepted form
				heading := ""
				for _, line := range strings.Split(string(help), "\n") {
					if gm := helpGroupRe.FindStringSubmatch(line); gm != nil {
						heading = gm[1]
					}
					for _, hm := range helpEnvRe.FindAllStringSubmatch(line, -1) {
						def := ""
						if hm[2] != "" {
							def, _ = strconv.Unquote(hm[2])
						}
						settings[hm[1]], group[hm[1]], form[hm[1]] = def, heading, hm[3]
					}
				}
				env, _ := run["environment"].(map[string]any)
				// A step recording canary_deploy's promotion reads only the
				// marker's settings and the event log.
				markerOnly := verb == "canary" && orbtest.Text(env["PMGUARD_CANARY_PROMOTION"]) != ""
				for key, val := range env {
					if !strings.HasPrefix(key, "PMGUARD_") {
						continue
					}
					def, ok := settings[key]
					if !ok {
						t.Errorf("%s sets %s, which pmguard %s does not read", where, key, verb)
						continue
					}
					pm := regexp.MustCompile(`^<<\s*parameters\.([a-z0-9_]+)\s*>>$`).FindStringSubmatch(orbtest.Text(val))
					if pm == nil {
						continue
					}
					p := d.Parameters[pm[1]]
					if p != nil && p.HasDefault && orbtest.Text(p.Default) != "" && def != "" && orbtest.Text(p.Default) != def {
						t.Errorf("%s: parameter %s defaults to %q but pmguard %s defaults %s to %q", where, pm[1], orbtest.Text(p.Default), verb, key, def)
					}
					// An integer parameter (seconds) says its unit in its own way.
					if p != nil && p.Type == "string" && durationForm.MatchString(form[key]) && !durationSaid.MatchString(p.Description) {
						t.Errorf("%s: parameter %s takes %s, which its description does not say: %q", where, pm[1], form[key], p.Description)
					}
				}
				for key := range settings {
					if markerOnly && !markerOnlyGroups[group[key]] {
						continue
					}
					if _, ok := env[key]; !ok {
						t.Errorf("%s: pmguard %s reads %s but no orb parameter sets it", where, verb, key)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no command runs a pmguard verb whose settings could be checked")
	}
}

// The pinned checksums are read to the end: stopping at the first match
// would kill the writing side of the pipe with SIGPIPE, which fails the
// step under CircleCI's bash -eo pipefail once the list is longer than a
// pipe buffer.
func TestInstallReadsLongPinnedChecksums(t *testing.T) {
	h := newHarness(t)
	sums := buildReleases(t).checksums[pinned]
	var b strings.Builder
	b.Write(sums)               // the host archive first
	for i := 0; i < 1000; i++ { // ~96 kB: above a 64 kB pipe buffer, below the 128 kB a variable may hold
		fmt.Fprintf(&b, "%064x  pmguard_%s_filler%d_amd64.tar.gz\n", i, pinned, i)
	}
	o, err := orbtest.Parse(packed(t, &pack.Pin{Version: pinned, Checksums: []byte(b.String())}))
	if err != nil {
		t.Fatal(err)
	}
	h.job.Orb = o
	if err := h.install(nil); err != nil {
		t.Fatalf("install with %d bytes of pinned checksums: %v\n%s", b.Len(), err, h.job.LastRun().Output)
	}
}
