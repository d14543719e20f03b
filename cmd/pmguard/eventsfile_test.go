package main

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pmguard/pmguard/internal/exitcode"
)

// TestEventsFileBadInput: an events file that cannot be appended to is bad
// input (exit 2), named by its flag and env var, before any request.
func TestEventsFileBadInput(t *testing.T) {
	url, hits := counter(t, 200)
	dir := t.TempDir()
	dangling := filepath.Join(dir, "dangling.jsonl")
	if err := os.Symlink("/nonexistent/dir/x.jsonl", dangling); err != nil {
		t.Fatal(err)
	}
	danglingHere := filepath.Join(dir, "dangling-here.jsonl")
	if err := os.Symlink(filepath.Join(dir, "not-there.jsonl"), danglingHere); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })

	tests := []struct {
		name, path string
		want       []string
	}{
		{"dangling symlink", dangling, []string{"is a symbolic link to /nonexistent/dir/x.jsonl, which does not exist"}},
		{"dangling symlink into an existing directory", danglingHere, []string{"which does not exist"}},
		{"FIFO", fifo, []string{"not a regular file (a FIFO)"}},
		{"socket", sock, []string{"not a regular file (a socket)"}},
		{"device", os.DevNull, []string{"not a regular file (a character device)"}},
		{"directory", dir, []string{"is a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := invoke(t, map[string]string{"PMGUARD_EVENTS_FILE": tt.path}, "health", "--endpoint", url)
			if code != exitcode.BadInput {
				t.Fatalf("exit %d, want 2\nstdout %s\nstderr %s", code, out, errOut)
			}
			contains(t, "stderr", errOut, append([]string{"invalid events_file", "flag --events-file", "env PMGUARD_EVENTS_FILE"}, tt.want...)...)
		})
	}
	if _, err := os.Lstat(filepath.Join(dir, "not-there.jsonl")); err == nil {
		t.Error("a symbolic link's target was created")
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests were made despite bad input", n)
	}
}

// TestReadOnlyEventsFileIsBadInput: an existing events file this process
// may not write is bad input, and it is left as it was. Root may write any
// file, so under root the test runs again as uid 65534.
func TestReadOnlyEventsFileIsBadInput(t *testing.T) {
	if os.Geteuid() == 0 {
		rerunUnprivileged(t)
		return
	}
	url, hits := counter(t, 200)
	path := filepath.Join(t.TempDir(), "ro.jsonl")
	if err := os.WriteFile(path, []byte(`{"event":"first"}`+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := invoke(t, map[string]string{"PMGUARD_EVENTS_FILE": path}, "health", "--endpoint", url)
	if code != exitcode.BadInput {
		t.Fatalf("exit %d, want 2\nstdout %s\nstderr %s", code, out, errOut)
	}
	contains(t, "stderr", errOut, "invalid events_file", "flag --events-file", "env PMGUARD_EVENTS_FILE", "cannot be appended to: permission denied")
	if b, _ := os.ReadFile(path); string(b) != `{"event":"first"}`+"\n" {
		t.Errorf("the read-only file changed: %q", b)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests were made despite bad input", n)
	}
}

// rerunUnprivileged runs the current test again in a copy of the test
// binary as uid and gid 65534, and fails when it fails.
func rerunUnprivileged(t *testing.T) {
	t.Helper()
	dir, err := os.MkdirTemp("", "pmguard-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "pmguard.test")
	copyFile(t, os.Args[0], bin)
	cmd := exec.Command(bin, "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + os.TempDir()}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("as uid 65534: %v\n%s", err, out)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
