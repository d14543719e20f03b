package orbtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/pmguard/pmguard/internal/testspecs"
)

// RepoRoot returns the module root: the nearest directory at or above the
// current one that holds go.mod.
func RepoRoot() (string, error) { return testspecs.ModuleRoot() }

// HostTarget is the os/arch a release archive must be built for to run here.
func HostTarget() string { return runtime.GOOS + "/" + runtime.GOARCH }

// BuildRelease runs the project's release build (scripts/release/build.sh)
// for the host only and writes the archive and checksums.txt into
// dir/v<version>/, the layout of the release download URL. It returns the
// checksums.txt content. It builds without cgo: the install tests need an
// archive, not the cgo parser, and compiling libpg_query (or installing a C
// compiler) would take minutes.
func BuildRelease(ctx context.Context, root, dir, version string) ([]byte, error) {
	dist := filepath.Join(dir, "v"+version)
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "release", "build.sh"), version)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TARGETS="+HostTarget(), "CGO_ENABLED=0", "DIST="+dist, "COMMIT=test", "DATE=2026-01-02T03:04:05Z")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("release build of %s: %w\n%s", version, err, out)
	}
	return os.ReadFile(filepath.Join(dist, "checksums.txt"))
}

// ReleaseServer serves a directory of releases over HTTP on loopback, the
// way the release download URL does, and counts requests per path. Tests
// can make it tamper with a file or fail a path a number of times.
type ReleaseServer struct {
	*httptest.Server
	dir string

	mu     sync.Mutex
	hits   map[string]int
	tamper map[string]bool
	swap   map[string]string // path -> path whose file is served instead
	fail   map[string][]int  // statuses to answer before serving the file
}

// NewReleaseServer serves dir; Close it when done.
func NewReleaseServer(dir string) *ReleaseServer {
	s := &ReleaseServer{dir: dir, hits: map[string]int{}, tamper: map[string]bool{}, swap: map[string]string{}, fail: map[string][]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *ReleaseServer) serve(w http.ResponseWriter, r *http.Request) {
	p := path.Clean(r.URL.Path)
	s.mu.Lock()
	s.hits[p]++
	tamper := s.tamper[p]
	file := p
	if other, ok := s.swap[p]; ok {
		file = other
	}
	status := 0
	if f := s.fail[p]; len(f) > 0 {
		status, s.fail[p] = f[0], f[1:]
	}
	s.mu.Unlock()
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	b, err := os.ReadFile(filepath.Join(s.dir, filepath.FromSlash(strings.TrimPrefix(file, "/"))))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if tamper && len(b) > 0 {
		b = append([]byte(nil), b...)
		b[len(b)/2] ^= 0xff
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(b)
}

// Hits returns how many requests urlPath received.
func (s *ReleaseServer) Hits(urlPath string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[urlPath]
}

// TotalHits returns how many requests the server received.
func (s *ReleaseServer) TotalHits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, h := range s.hits {
		n += h
	}
	return n
}

// Tamper makes the server flip a byte in the middle of urlPath's content.
func (s *ReleaseServer) Tamper(urlPath string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tamper[urlPath] = true
}

// Swap makes the server answer urlPath with the file of fromURLPath: a
// well-formed archive that is not the one the checksums name.
func (s *ReleaseServer) Swap(urlPath, fromURLPath string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.swap[urlPath] = fromURLPath
}

// Fail makes the next requests for urlPath answer these statuses, one each,
// before the file is served again.
func (s *ReleaseServer) Fail(urlPath string, statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[urlPath] = append(s.fail[urlPath], statuses...)
}

// ArchivePath is the URL path of version's archive for the host.
func ArchivePath(version string) string {
	return fmt.Sprintf("/v%s/pmguard_%s_%s_%s.tar.gz", version, version, runtime.GOOS, runtime.GOARCH)
}
