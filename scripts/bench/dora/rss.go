package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// measureFlag makes the bench binary a launcher: it runs the command after
// it as its own child and writes the child's max RSS (KiB) to fd 3.
const measureFlag = "-measure-rss-of"

// Linux records a process's max RSS from the memory of the process it was
// exec'd from: a child started straight from the bench would be charged
// with the bench's own peak, which holds the CircleCI stand-in's whole
// history. The launcher is a fresh exec of the bench binary, small, so the
// figure of its child is the child's own.
func measured(cmd *exec.Cmd) (*exec.Cmd, *os.File, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	wrapped := exec.Command(self, append([]string{measureFlag, cmd.Path}, cmd.Args[1:]...)...)
	wrapped.Env, wrapped.Stdout, wrapped.Stderr, wrapped.Dir = cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir
	wrapped.ExtraFiles = []*os.File{w}
	return wrapped, r, nil
}

// runMeasured runs cmd through the launcher and returns its max RSS in KiB.
func runMeasured(cmd *exec.Cmd) (int64, error) {
	wrapped, r, err := measured(cmd)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	err = wrapped.Run()
	wrapped.ExtraFiles[0].Close()
	var kib int64
	if _, scanErr := fmt.Fscan(r, &kib); scanErr != nil && err == nil {
		err = fmt.Errorf("launcher reported no max RSS: %v", scanErr)
	}
	if err == nil {
		// What a child started straight from the bench would have been
		// charged with: the bench's own peak when it started the launcher.
		fmt.Fprintf(os.Stderr, "max RSS: pmguard %d MB; a direct child of the bench would report %d MB\n",
			kib/1024, wrapped.ProcessState.SysUsage().(*syscall.Rusage).Maxrss/1024)
	}
	return kib, err
}

// launch is the launcher's main: args are the command and its arguments.
func launch(args []string) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fmt.Fprintln(os.Stderr, "launcher:", err)
		os.Exit(3)
	}
	out := os.NewFile(3, "rss")
	fmt.Fprintln(out, strconv.FormatInt(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss, 10))
	out.Close()
	os.Exit(cmd.ProcessState.ExitCode())
}
