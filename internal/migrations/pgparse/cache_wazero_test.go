//go:build !cgo || pmguard_wasm

package pgparse

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestCacheHelper is the child process of the cache tests: it parses once
// with the cache directory it is given and prints what loading allocated.
func TestCacheHelper(t *testing.T) {
	dir, ok := os.LookupEnv("PMGUARD_PGPARSE_CACHE_HELPER")
	if !ok {
		t.Skip("child process of TestCompiledCodeIsCached")
	}
	UseCacheDir(dir)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := Parse("ALTER TABLE users DROP COLUMN legacy"); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	wasmMu.Lock()
	cached := instance.cached
	wasmMu.Unlock()
	fmt.Printf("cached=%v alloc=%d\n", cached, after.TotalAlloc-before.TotalAlloc)
}

func parseInChild(t *testing.T, dir string) (cached bool, alloc uint64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCacheHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PMGUARD_PGPARSE_CACHE_HELPER="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "cached="); ok {
			f := strings.Fields(rest)
			n, _ := strconv.ParseUint(strings.TrimPrefix(f[1], "alloc="), 10, 64)
			return f[0] == "true", n
		}
	}
	t.Fatalf("child printed no result:\n%s", out)
	return false, 0
}

// The first process compiles the module into the cache directory; the next
// one loads the compiled code instead of compiling, which allocates a
// fraction of the compile's memory.
func TestCompiledCodeIsCached(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the WebAssembly parser (-short)")
	}
	dir := filepath.Join(t.TempDir(), "cache")
	cached, cold := parseInChild(t, dir)
	if !cached {
		t.Fatal("the first run did not use the cache directory")
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "wazero-*", "*"))
	if len(entries) == 0 {
		t.Fatalf("nothing stored in %s", dir)
	}
	cached, warm := parseInChild(t, dir)
	t.Logf("allocated loading: %d cold, %d warm", cold, warm)
	if !cached || warm*4 > cold {
		t.Fatalf("second run: cached=%v, allocated %d bytes loading, the first %d", cached, warm, cold)
	}
}

// A cache directory that cannot be created is not used, and nothing fails.
func TestUnusableCacheDirFallsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the WebAssembly parser (-short)")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if cached, _ := parseInChild(t, filepath.Join(file, "cache")); cached {
		t.Fatal("a directory under a file was used as the cache")
	}
}
