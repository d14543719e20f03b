package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/pmguard/pmguard/internal/migrations"
)

// schemaRepo generates a repository: the target commit holds lines of
// application code (Go files of 1,000 lines, each the data access of one of
// 50 tables, a quarter of its lines SQL, and every column name shared by
// all tables, so git grep cannot rule a file out); the failed
// commit adds n golang-migrate migrations, each dropping, renaming or
// retyping a column or adding a NOT NULL one.
func schemaRepo(n, lines int) (dir, target, failed string, err error) {
	dir, err = os.MkdirTemp("", "pmguard-bench-schema-")
	if err != nil {
		return "", "", "", err
	}
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", append([]string{"-c", "user.name=b", "-c", "user.email=b@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	write := func(p, content string) error {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		return os.WriteFile(full, []byte(content), 0o644)
	}
	const tables = 50
	var initSQL strings.Builder
	for t := 0; t < tables; t++ {
		fmt.Fprintf(&initSQL, "CREATE TABLE t%d (id bigint PRIMARY KEY, c1 text, c2 text, c3 numeric, c4 text);\n", t)
	}
	if err := write("db/migrations/0001_init.up.sql", initSQL.String()); err != nil {
		return "", "", "", err
	}
	const perFile = 1000
	for f := 0; f*perFile < lines; f++ {
		var b strings.Builder
		fmt.Fprintf(&b, "package app\n\n")
		for l := 2; l < perFile; l++ {
			t := f % tables
			switch l % 4 {
			case 0:
				fmt.Fprintf(&b, "const q%d = `SELECT id, c1, c2 FROM t%d WHERE id = $1`\n", l, t)
			case 1:
				fmt.Fprintf(&b, "const i%d = `INSERT INTO t%d (id, c1) VALUES ($1, $2)`\n", l, t)
			case 2:
				fmt.Fprintf(&b, "func f%d(x int) int { return x * %d } // helper\n", l, l)
			default:
				fmt.Fprintf(&b, "var v%d = \"row %d of file %d\"\n", l, l, f)
			}
		}
		if err := write(fmt.Sprintf("app/gen%03d.go", f), b.String()); err != nil {
			return "", "", "", err
		}
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"commit", "-q", "-m", "target"}} {
		if _, err := git(args...); err != nil {
			return "", "", "", err
		}
	}
	if target, err = git("rev-parse", "HEAD"); err != nil {
		return "", "", "", err
	}
	for m := 0; m < n; m++ {
		t := m % tables
		var stmt string
		switch m % 4 {
		case 0:
			stmt = fmt.Sprintf("ALTER TABLE t%d DROP COLUMN c2;\n", t)
		case 1:
			stmt = fmt.Sprintf("ALTER TABLE t%d RENAME COLUMN c1 TO c1_new;\n", t)
		case 2:
			stmt = fmt.Sprintf("ALTER TABLE t%d ALTER COLUMN c3 TYPE text;\n", t)
		default:
			stmt = fmt.Sprintf("ALTER TABLE t%d ADD COLUMN c9 text NOT NULL;\n", t)
		}
		name := fmt.Sprintf("db/migrations/%04d_change.up.sql", m+2)
		if err := write(name, "SET lock_timeout = '5s';\n"+stmt); err != nil {
			return "", "", "", err
		}
		if err := write(strings.Replace(name, ".up.", ".down.", 1), "SELECT 1;\n"); err != nil {
			return "", "", "", err
		}
	}
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", "failed"}} {
		if _, err := git(args...); err != nil {
			return "", "", "", err
		}
	}
	failed, err = git("rev-parse", "HEAD")
	return dir, target, failed, err
}

// runSchema times the schema check the rollback runs before its trigger.
func runSchema(n, lines, runs int) error {
	dir, target, failed, err := schemaRepo(n, lines)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	check := migrations.RollbackCheck{Git: migrations.ExecGit{Dir: dir}, Migrations: []string{"db/migrations/**/*.sql"}, Target: target, Failed: failed}
	var times, cpus []time.Duration
	var cold, coldCPU time.Duration
	var res *migrations.RollbackCheckResult
	for i := 0; i < runs+1; i++ {
		start, cpu0 := time.Now(), cpuTime()
		res, err = migrations.CheckRollback(context.Background(), check)
		if err != nil {
			return err
		}
		if i == 0 { // the first run also loads the parser, once per process
			cold, coldCPU = time.Since(start), cpuTime()-cpu0
		} else {
			times, cpus = append(times, time.Since(start)), append(cpus, cpuTime()-cpu0)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	sort.Slice(cpus, func(i, j int) bool { return cpus[i] < cpus[j] })
	// The floor: one git grep of the same names over the same commit.
	start := time.Now()
	cmd := exec.Command("git", "grep", "-l", "-I", "-i", "-w", "-F", "-e", "c1", "-e", "c2", "-e", "c3", "-e", "c9", target, "--", "app")
	cmd.Dir = dir
	_ = cmd.Run()
	grep := time.Since(start)
	fmt.Printf("\nSchema check: %d migrations between target and failed revision, %d lines of code at the target, median of %d runs (after one warm-up):\n\n", len(res.Files)/2, lines, runs)
	fmt.Printf("| | wall time | CPU time (this process and git) | findings | code files read |\n|---|---|---|---|---|\n")
	fmt.Printf("| schema check, first in the process (what a rollback pays: parser load included) | %d ms | %d ms | %d | %d |\n", cold.Milliseconds(), coldCPU.Milliseconds(), len(res.Findings), res.CodeFiles)
	fmt.Printf("| schema check, warm (median) | %d ms | %d ms | %d | %d |\n", times[len(times)/2].Milliseconds(), cpus[len(cpus)/2].Milliseconds(), len(res.Findings), res.CodeFiles)
	fmt.Printf("| floor: one `git grep -l` of the column names | %d ms | — | — | — |\n", grep.Milliseconds())
	return nil
}

// cpuTime is the CPU time used so far by this process and its waited-for
// children (git).
func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	d := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return d(self.Utime) + d(self.Stime) + d(kids.Utime) + d(kids.Stime)
}
