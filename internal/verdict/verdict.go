// Package verdict holds the error a guard returns when it ran and judged the
// thing it guards to be bad. cmd/pmguard maps it to exit code 1; any other
// error is bad input (config.Invalid) or a failure to run.
package verdict

import "fmt"

// Fail is a verdict of fail, with the message for the summary.
type Fail struct{ Msg string }

func (e *Fail) Error() string { return e.Msg }

// Failf returns a verdict of fail.
func Failf(format string, a ...any) error { return &Fail{Msg: fmt.Sprintf(format, a...)} }
