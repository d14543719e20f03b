// Package exitcode maps the outcome of a pmguard verb to the process exit
// code every verb shares: 0 pass, 1 the guard's verdict is fail, 2 bad input
// or configuration (found before any network call), 3 could not run.
package exitcode

import (
	"errors"
	"fmt"
)

// The exit codes, the same for every verb.
const (
	Pass        = 0
	Fail        = 1
	BadInput    = 2
	CouldNotRun = 3
)

// FailError is a verdict of fail: the guard ran and the thing it guards is bad.
type FailError struct{ Msg string }

func (e *FailError) Error() string { return e.Msg }

// Failf returns a verdict of fail with a message for the summary.
func Failf(format string, a ...any) error { return &FailError{Msg: fmt.Sprintf(format, a...)} }

// BadInputError is input or configuration that cannot be used.
type BadInputError struct{ Err error }

func (e *BadInputError) Error() string { return e.Err.Error() }
func (e *BadInputError) Unwrap() error { return e.Err }

// Invalid marks err as bad input (exit 2).
func Invalid(err error) error {
	if err == nil {
		return nil
	}
	return &BadInputError{Err: err}
}

// Invalidf returns a bad-input error with a formatted message.
func Invalidf(format string, a ...any) error { return Invalid(fmt.Errorf(format, a...)) }

// Of returns the exit code for the error a verb returned. Any error that is
// neither a verdict of fail nor bad input means pmguard could not run.
func Of(err error) int {
	var fail *FailError
	var bad *BadInputError
	var coded interface{ ExitCode() int }
	switch {
	case err == nil:
		return Pass
	case errors.As(err, &fail):
		return Fail
	case errors.As(err, &bad):
		return BadInput
	case errors.As(err, &coded):
		return coded.ExitCode()
	default:
		return CouldNotRun
	}
}
