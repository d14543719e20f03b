package appendfile

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(regular, []byte("kept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.jsonl")
	os.Symlink(regular, link)
	dangling := filepath.Join(dir, "dangling.jsonl")
	os.Symlink(filepath.Join(dir, "nothing", "x.jsonl"), dangling)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	tests := []struct {
		path   string
		exists bool
		want   string // "" for no error
	}{
		{filepath.Join(dir, "missing.jsonl"), false, ""},
		{regular, true, ""},
		{link, true, ""},
		{dangling, true, "is a symbolic link to " + filepath.Join(dir, "nothing", "x.jsonl") + ", which does not exist"},
		{fifo, true, "not a regular file (a FIFO)"},
		{sock, true, "not a regular file (a socket)"},
		{os.DevNull, true, "not a regular file (a character device)"},
		{dir, true, "is a directory"},
	}
	for _, tt := range tests {
		exists, err := Check(tt.path)
		if exists != tt.exists {
			t.Errorf("Check(%s): exists %v, want %v", tt.path, exists, tt.exists)
		}
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Check(%s) = %v, want %q", tt.path, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), tt.path) {
			t.Errorf("Check(%s) = %v: the caller names the path", tt.path, err)
		}
	}
	if b, _ := os.ReadFile(regular); string(b) != "kept\n" {
		t.Errorf("Check wrote to the file: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "missing.jsonl")); err == nil {
		t.Error("Check created a missing file")
	}
}

func TestOpenRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	var nr *NotRegularError
	if _, err := Open(fifo); !errors.As(err, &nr) {
		t.Errorf("Open(FIFO without a reader) = %v, want a NotRegularError", err)
	}
	if _, err := Open(os.DevNull); !errors.As(err, &nr) || nr.Kind != "a character device" {
		t.Errorf("Open(%s) = %v", os.DevNull, err)
	}
	f, err := Open(filepath.Join(dir, "new.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}
