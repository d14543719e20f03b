// Package exitcode maps the error a verb returned to the process exit code
// every verb shares: 0 pass, 1 the guard's verdict is fail, 2 bad input or
// configuration (found before any network call), 3 could not run. Only
// cmd/pmguard and tests use it; domain code returns typed errors.
package exitcode

import (
	"errors"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/verdict"
)

// The exit codes, the same for every verb.
const (
	Pass        = 0
	Fail        = 1
	BadInput    = 2
	CouldNotRun = 3
)

// Of returns the exit code for the error a verb returned. Any error that is
// neither a verdict of fail nor bad input means pmguard could not run.
func Of(err error) int {
	var fail *verdict.Fail
	var input *config.InputError
	var invalid *config.InvalidError
	switch {
	case err == nil:
		return Pass
	case errors.As(err, &fail):
		return Fail
	case errors.As(err, &input), errors.As(err, &invalid):
		return BadInput
	default:
		return CouldNotRun
	}
}
