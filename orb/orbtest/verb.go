package orbtest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pmguard/pmguard/orb/pack"
)

// WithVerb packs and parses the orb source at src, with the install
// command's steps removed (installing is tested with the orb), and returns
// it with a directory for PATH whose pmguard runs this test binary with
// envVar=1 when called as `pmguard verb ...`: the package's TestMain then
// runs the verb from the environment the orb step set, as cmd/pmguard does.
func WithVerb(t *testing.T, src, verb, envVar string) (*Orb, string) {
	t.Helper()
	b, err := pack.Pack(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	o.Commands["install"].Steps = nil
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	wrapper := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = %s ] || exit 3\nshift\n%s=1 exec %q \"$@\"\n", verb, envVar, self)
	if err := os.WriteFile(filepath.Join(bin, "pmguard"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	return o, bin
}
