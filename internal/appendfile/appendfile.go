// Package appendfile opens a file to append to without ever blocking, and
// says before a run starts why a path cannot be appended to. The event log
// uses both: Check when the settings are validated (bad input), Open on
// every append (the path may have changed since).
package appendfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// NotRegularError is a path that names something other than a regular file:
// a FIFO, a socket, a device or a directory.
type NotRegularError struct{ Kind string }

func (e *NotRegularError) Error() string { return "not a regular file (" + e.Kind + ")" }

// Open opens path to append, creating it when missing. O_NONBLOCK makes
// opening a FIFO fail or return at once instead of waiting for a reader, and
// anything but a regular file is refused before a byte is written.
func Open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK, 0o644)
	if errors.Is(err, syscall.ENXIO) {
		return nil, &NotRegularError{Kind: "a FIFO or socket with no reader"}
	}
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, &NotRegularError{Kind: Kind(st.Mode())}
	}
	return f, nil
}

// Check says why path cannot be appended to, without creating or writing
// it: a symbolic link to nothing, anything but a regular file, a file this
// process may not write. exists is false (and err nil) when nothing is at
// path: whether it can be created is for the caller to check.
func Check(path string) (exists bool, err error) {
	lst, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, bare(err)
	}
	st := lst
	if lst.Mode()&fs.ModeSymlink != 0 {
		st, err = os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			target, _ := os.Readlink(path)
			return true, fmt.Errorf("is a symbolic link to %s, which does not exist", target)
		}
		if err != nil {
			return true, bare(err)
		}
	}
	if st.IsDir() {
		return true, errors.New("is a directory")
	}
	if !st.Mode().IsRegular() {
		return true, &NotRegularError{Kind: Kind(st.Mode())}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|syscall.O_NONBLOCK, 0)
	if err != nil {
		return true, fmt.Errorf("cannot be appended to: %v", bare(err))
	}
	return true, f.Close()
}

// Kind names a file mode that is not a regular file.
func Kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return m.Type().String()
}

// bare drops the operation and path of a PathError: callers name the path.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
