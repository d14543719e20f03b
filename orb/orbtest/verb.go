package orbtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/orb/pack"
)

// WithVerb packs and parses the orb source at src, with the install
// command's steps removed (installing is tested with the orb), and returns
// it with a directory for PATH whose pmguard runs this test binary with
// envVar set to the verb when called as `pmguard verb ...`: the package's
// TestMain then runs the verb from the environment the orb step set, as
// cmd/pmguard does.
func WithVerb(t *testing.T, src, verb, envVar string) (*Orb, string) {
	t.Helper()
	return WithVerbs(t, src, envVar, verb)
}

// WithVerbs is WithVerb for an orb command whose steps call several verbs
// (a guard and its notify step): `pmguard <verb> ...` runs this test binary
// with envVar set to the verb named, for each verb of verbs; any other is
// exit 3.
func WithVerbs(t *testing.T, src, envVar string, verbs ...string) (*Orb, string) {
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
	wrapper := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in\n%s)\n  v=$1\n  shift\n  %s=$v exec %q \"$@\"\n  ;;\nesac\nexit 3\n",
		strings.Join(verbs, "|"), envVar, self)
	if err := os.WriteFile(filepath.Join(bin, "pmguard"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	return o, bin
}
