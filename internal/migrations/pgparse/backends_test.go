package pgparse

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Release binaries are cross-compiled without cgo and use the WebAssembly
// build of the parser; the default test run uses cgo. This runs this
// package's tests again with the WebAssembly build so both are checked.
func TestWebAssemblyBuildPassesTheSameTests(t *testing.T) {
	if Backend != "libpg_query (cgo)" || os.Getenv("PMGUARD_PGPARSE_NESTED") != "" {
		t.Skip("runs from the cgo build only")
	}
	if testing.Short() {
		t.Skip("builds the WebAssembly parser (-short)")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command on PATH: %v", err)
	}
	cmd := exec.Command(goBin, "test", "-count=1", "-tags", "pmguard_wasm", "-run", "^Test[^W]", ".")
	cmd.Env = append(os.Environ(), "PMGUARD_PGPARSE_NESTED=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test -tags pmguard_wasm: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ok") {
		t.Fatalf("unexpected output:\n%s", out)
	}
}

func TestBackendName(t *testing.T) {
	if !strings.HasPrefix(Backend, "libpg_query (") {
		t.Fatalf("Backend %q", Backend)
	}
}
