// Package pgtest starts a real PostgreSQL server for tests: Debian's server
// binaries, a temporary data directory, a loopback port and password
// authentication, stopped when the test ends. In CI (CI set) a missing
// server fails the test; on a developer machine it skips.
package pgtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// serverBin finds the newest Debian PostgreSQL server binaries.
func serverBin(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("PostgreSQL is required in CI: no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)")
	}
	t.Skip("PostgreSQL not installed (/usr/lib/postgresql/*/bin/initdb)")
	return ""
}

// Start runs a PostgreSQL server on a loopback port in a temporary
// data directory, with password authentication, until the test ends. It
// returns the URL of its postgres database and the password.
func Start(t *testing.T) (string, string) {
	t.Helper()
	bin := serverBin(t)
	dir, err := os.MkdirTemp("", "pmguard-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// PostgreSQL refuses to run as root: run it as the postgres user then.
	var cred *syscall.SysProcAttr
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user to start PostgreSQL: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		cred = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	password := "pw-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-s3cret"
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "pmguard", "--pwfile="+pwfile,
		"--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = cred
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	// The port was free when asked for, but another process may take it
	// before postgres binds it: then postgres exits, and a new port is tried.
	var port int
	for attempt := 1; ; attempt++ {
		var log string
		var err error
		port, log, err = run(t, bin, data, dir, cred)
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(log, "could not bind") {
			t.Fatalf("%v\n%s", err, log)
		}
	}
	return fmt.Sprintf("postgres://pmguard:%s@127.0.0.1:%d/postgres?sslmode=disable", password, port), password
}

// run starts postgres on a free loopback port and waits until it is ready;
// it is stopped when the test ends. On error it returns the server's log.
func run(t *testing.T, bin, data, dir string, cred *syscall.SysProcAttr) (int, string, error) {
	t.Helper()
	port := FreePort(t)
	srv := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off",
		"-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	srv.SysProcAttr = cred
	srv.Dir = dir
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var logMu sync.Mutex
	var logBuf strings.Builder
	logText := func() string {
		logMu.Lock()
		defer logMu.Unlock()
		return logBuf.String()
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			logMu.Lock()
			logBuf.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if !once && strings.Contains(sc.Text(), "ready to accept connections") {
				once = true
				close(ready)
			}
		}
	}()
	// Wait closes stderr: only once all of it has been read, so that the
	// log of a server that exited is whole.
	exited := make(chan error, 1)
	go func() { <-scanned; exited <- srv.Wait() }()
	select {
	case <-ready:
	case err := <-exited:
		return 0, logText(), fmt.Errorf("postgres exited: %v", err)
	case <-time.After(60 * time.Second):
		srv.Process.Kill()
		<-exited
		return 0, logText(), errors.New("postgres not ready after 60s")
	}
	t.Cleanup(func() {
		srv.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			srv.Process.Kill()
			<-exited
		}
	})
	return port, "", nil
}

// FreePort is a loopback TCP port nothing listens on.
func FreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Connect starts a server (Start) and returns a connection to its postgres
// database, closed when the test ends, and the database's URL.
func Connect(t *testing.T) (*pgx.Conn, string) {
	t.Helper()
	url, _ := Start(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn, url
}
