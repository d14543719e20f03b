// Package verbtest builds verb.Deps for tests: a map environment or the
// process's own, streams that may be nil, the real clock.
package verbtest

import (
	"io"
	"os"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/verb"
)

// Deps returns a dependency set over a map environment, writing to the
// given streams (nil discards).
func Deps(env map[string]string, stdout, stderr io.Writer) *verb.Deps {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	return verb.New(config.MapEnv(env), stdout, stderr, "test")
}

// OS returns the dependency set of this process (for test binaries that
// run a verb as a child process).
func OS() *verb.Deps { return verb.New(config.OSEnv(), os.Stdout, os.Stderr, "test") }
