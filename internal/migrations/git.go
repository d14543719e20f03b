package migrations

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"

	"github.com/pmguard/pmguard/internal/httpx"
)

// Git runs git commands in the repository. ExecGit runs the real git; tests
// may substitute another implementation.
type Git interface {
	// Run runs git with args, feeding it stdin (may be nil), and returns its
	// standard output. A non-zero exit is an *GitError.
	Run(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error)
}

// GitError is a git command that exited non-zero.
type GitError struct {
	Args   []string
	Code   int
	Stderr string
}

func (e *GitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = fmt.Sprintf("exit status %d", e.Code)
	}
	// git quotes what it was given: a URL in it may carry credentials.
	return httpx.RedactText(fmt.Sprintf("git %s: %s", strings.Join(e.Args, " "), msg))
}

// ExecGit runs the git binary in Dir.
type ExecGit struct {
	Dir string
	// Bin is the git binary; empty means "git" from PATH.
	Bin string
}

func (g ExecGit) Run(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	bin := g.Bin
	if bin == "" {
		bin = "git"
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = g.Dir
	cmd.Stdin = stdin
	// Never prompt, never page, never read the user's pager or external diff
	// settings: the output is parsed.
	cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_PAGER=cat", "GIT_EXTERNAL_DIFF=", "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.Bytes(), &GitError{Args: args, Code: ee.ExitCode(), Stderr: limit(httpx.RedactText(stderr.String()), 2000)}
	}
	if err != nil {
		return nil, fmt.Errorf("running git: %w", err)
	}
	return stdout.Bytes(), nil
}

func limit(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// repo wraps Git with the few operations the check needs.
type repo struct{ git Git }

// isRepository fails when the directory is in no git repository, which git
// would otherwise report as "HEAD" not being a commit.
func (r repo) isRepository(ctx context.Context) error {
	_, err := r.git.Run(ctx, nil, "rev-parse", "--git-dir")
	var ge *GitError
	if errors.As(err, &ge) {
		if msg := strings.TrimPrefix(strings.TrimSpace(ge.Stderr), "fatal: "); !strings.Contains(msg, "not a git repository") {
			return fmt.Errorf("not usable as a git repository: %s", msg) // e.g. git's safe.directory refusal
		}
		return errors.New("not a git repository, nor inside one")
	}
	return err
}

// resolve returns the full commit id of rev.
func (r repo) resolve(ctx context.Context, rev string) (string, error) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return "", fmt.Errorf("%q is not a git revision", rev)
	}
	out, err := r.git.Run(ctx, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		var ge *GitError
		if errors.As(err, &ge) {
			return "", fmt.Errorf("%q is not a commit in this repository (a shallow clone may lack it: git fetch origin %s)", rev, rev)
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// mergeBase returns the best common ancestor of a and b, or a when they
// share no history.
func (r repo) mergeBase(ctx context.Context, a, b string) (string, error) {
	out, err := r.git.Run(ctx, nil, "merge-base", a, b)
	var ge *GitError
	if errors.As(err, &ge) && ge.Code == 1 {
		return a, nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// files lists every file path in the tree of commit.
func (r repo) files(ctx context.Context, commit string) ([]string, error) {
	out, err := r.git.Run(ctx, nil, "ls-tree", "-r", "-z", "--name-only", "--full-tree", commit)
	if err != nil {
		return nil, err
	}
	return splitZ(out), nil
}

// change is one file added or modified between two commits.
type change struct {
	Path   string
	Status string // "added" or "changed"
}

// changes lists the files added or modified from a to b (renames count as
// added; deleted files are left out).
func (r repo) changes(ctx context.Context, a, b string) ([]change, error) {
	out, err := r.git.Run(ctx, nil, "diff", "--no-renames", "--no-ext-diff", "--name-status", "-z", a, b)
	if err != nil {
		return nil, err
	}
	fields := splitZ(out)
	var res []change
	for i := 0; i+1 < len(fields); i += 2 {
		switch fields[i][:1] {
		case "A":
			res = append(res, change{fields[i+1], "added"})
		case "M", "T":
			res = append(res, change{fields[i+1], "changed"})
		}
	}
	return res, nil
}

// read returns the content of each path at commit; paths missing there are
// absent from the map. One git process serves every file.
func (r repo) read(ctx context.Context, commit string, paths []string) (map[string]string, error) {
	if len(paths) == 0 {
		return map[string]string{}, nil
	}
	var in bytes.Buffer
	for _, p := range paths {
		if strings.ContainsAny(p, "\n") {
			continue
		}
		fmt.Fprintf(&in, "%s:%s\n", commit, p)
	}
	out, err := r.git.Run(ctx, &in, "cat-file", "--batch=%(objecttype) %(objectsize)")
	if err != nil {
		return nil, err
	}
	res := make(map[string]string, len(paths))
	br := bufio.NewReader(bytes.NewReader(out))
	for _, p := range paths {
		if strings.ContainsAny(p, "\n") {
			continue
		}
		header, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("git cat-file: short output")
		}
		typ, size, ok := strings.Cut(strings.TrimSuffix(header, "\n"), " ")
		n, err := strconv.Atoi(size)
		if !ok || err != nil || strings.Contains(size, " ") {
			continue // "<object> missing" (or ambiguous): not in that commit
		}
		buf := make([]byte, n+1)
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, fmt.Errorf("git cat-file: short output")
		}
		if typ == "blob" {
			res[p] = string(buf[:n])
		}
	}
	return res, nil
}

// grepFiles lists the files at commit, within pathspecs, holding any of
// needles as a whole word, case-insensitively. Binary files are skipped.
func (r repo) grepFiles(ctx context.Context, commit string, needles, pathspecs []string) ([]string, error) {
	if len(needles) == 0 {
		return nil, nil
	}
	args := []string{"grep", "-l", "-z", "-I", "-i", "-w", "-F", "--full-name", "--no-color"}
	for _, n := range needles {
		args = append(args, "-e", n)
	}
	args = append(args, commit, "--")
	args = append(args, pathspecs...)
	out, err := r.git.Run(ctx, nil, args...)
	var ge *GitError
	if errors.As(err, &ge) && ge.Code == 1 && len(strings.TrimSpace(ge.Stderr)) == 0 {
		return nil, nil // no match
	}
	if err != nil {
		return nil, err
	}
	var files []string
	for _, f := range splitZ(out) {
		// git grep on a tree prints "<commit>:<path>"
		files = append(files, strings.TrimPrefix(f, commit+":"))
	}
	return files, nil
}

func splitZ(b []byte) []string {
	var out []string
	for _, f := range bytes.Split(b, []byte{0}) {
		if len(f) > 0 {
			out = append(out, string(f))
		}
	}
	return out
}
