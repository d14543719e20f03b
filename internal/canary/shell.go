package canary

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// groupGrace bounds the wait for a killed process group to be gone: a
// process in uninterruptible sleep (a hung NFS read) cannot be waited for
// for ever.
const groupGrace = 10 * time.Second

// runShell runs script with sh -c in a process group of its own, its
// output on out. When ctx ends, the whole group is killed, not only the
// shell; and however the run ends, runShell returns only once no process
// of the group is left (or after groupGrace, saying so): a child the
// command started — a backgrounded call, the rest of a script killed
// mid-way — cannot act after pmguard has moved on.
func runShell(ctx context.Context, script string, env []string, out io.Writer) error {
	adoptOrphans()
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// The group is killed with the shell, so its pipes close; this only
	// bounds a pipe held by a process that left the group.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	// A shell that exited 0 but left a background process holding its
	// output (kubectl port-forward &) did its work: the process is ended
	// with the group below, as documented, and is not a failed set_weight.
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		err = nil
	}
	if cmd.Process != nil {
		if gerr := endGroup(cmd.Process.Pid); gerr != nil && err == nil {
			err = gerr
		}
	}
	return err
}

// errGroupLeft: processes of the group outlived SIGKILL and groupGrace.
var errGroupLeft = errors.New("processes it started were still there " + groupGrace.String() + " after being killed")

// endGroup kills every process left in process group pgid and waits until
// none is left.
func endGroup(pgid int) error {
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil {
		return nil // ESRCH: none left
	}
	deadline := time.Now().Add(groupGrace)
	for {
		reapGroup(pgid)
		if syscall.Kill(-pgid, 0) == syscall.ESRCH {
			return nil
		}
		if time.Now().After(deadline) {
			return errGroupLeft
		}
		time.Sleep(5 * time.Millisecond)
	}
}
