package canary

import (
	"sync"
	"syscall"
)

const prSetChildSubreaper = 36 // PR_SET_CHILD_SUBREAPER, linux/prctl.h

var subreaper sync.Once

// adoptOrphans makes pmguard the subreaper of its descendants: a process
// whose parent dies (set_weight's children, once its shell is killed) is
// re-parented to pmguard rather than to PID 1, so pmguard can reap it and
// know it is gone. A container's PID 1 often reaps nothing, and an
// unreaped process stays in its group as a zombie.
func adoptOrphans() {
	subreaper.Do(func() {
		syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	})
}

// reapGroup reaps the processes of group pgid that have ended and are
// pmguard's children (adopted orphans).
func reapGroup(pgid int) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-pgid, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
