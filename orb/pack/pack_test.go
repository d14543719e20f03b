package pack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// circleci-cli's own cases (process.MaybeIncludeFile) and the shell forms
// that hold "<<".
func TestEscapeIsCircleCIsRule(t *testing.T) {
	cases := map[string]string{
		"<< hello":                   `\<< hello`,
		"cat <<EOF\nx\nEOF\n":        "cat \\<<EOF\nx\nEOF\n",
		"cat <<-'EOF'":               `cat \<<-'EOF'`,
		`read -r a <<<"$b"`:          `read -r a \<<<"$b"`,
		"<<<<":                       `\<<\<<`,
		"echo << parameters.x >>":    `echo \<< parameters.x >>`,
		"no angle brackets":          "no angle brackets",
		"a < b, a << b":              `a < b, a \<< b`,
		`already \<< escaped`:        `already \\<< escaped`,
		"<<include(scripts/x.sh)>>":  `\<<include(scripts/x.sh)>>`,
		"x <\n< y":                   "x <\n< y",
		"$((1 << 3))":                `$((1 \<< 3))`,
		"":                           "",
		"<":                          "<",
		"<<":                         `\<<`,
		"<<<":                        `\<<<`,
		"<<<<<":                      `\<<\<<<`,
		"<\\<<":                      `<\\<<`,
		"heredoc in a comment # <<x": `heredoc in a comment # \<<x`,
	}
	for in, want := range cases {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
		if got := Unescape(Escape(in)); got != in {
			t.Errorf("Unescape(Escape(%q)) = %q", in, got)
		}
	}
}

func FuzzEscapeRoundTrip(f *testing.F) {
	for _, s := range []string{"<<", `\<<`, "<<<", `\\<<<`, "a<\\<<b<<<<"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := Escape(s)
		if Unescape(e) != s {
			t.Fatalf("Unescape(Escape(%q)) = %q", s, Unescape(e))
		}
		// Every "<<" of the escaped text is escaped.
		for i := strings.Index(e, "<<"); i >= 0; {
			if i == 0 || e[i-1] != '\\' {
				t.Fatalf("Escape(%q) = %q leaves a bare << at %d", s, e, i)
			}
			j := strings.Index(e[i+2:], "<<")
			if j < 0 {
				break
			}
			i += 2 + j
		}
	})
}

func writeOrb(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestIncludeStatementsAsCircleCIReadsThem(t *testing.T) {
	cases := map[string]string{ // command value -> error wanted ("" none)
		"<<include(scripts/a.sh)>>":                           "",
		"<< include(scripts/a.sh) >>":                         "",
		"echo <<include(scripts/a.sh)>>":                      "whole value",
		"<<include(scripts/a.sh)>> <<include(scripts/a.sh)>>": "multiple include",
		"<<include(scripts/my-script.sh)>>":                   "",
		"<<include(scripts/a b.sh)>>":                         "malformed include",
		"<<include(../a.sh)>>":                                "leaves the orb source",
		"<<include(scripts/missing.sh)>>":                     "no such file",
	}
	for value, wantErr := range cases {
		t.Run(value, func(t *testing.T) {
			dir := writeOrb(t, map[string]string{
				"@orb.yml":             "version: 2.1\ndescription: x\n",
				"scripts/a.sh":         "cat <<EOF\nhi\nEOF\n",
				"scripts/my-script.sh": "cat <<EOF\nhi\nEOF\n",
				"commands/x.yml":       "description: x\nsteps:\n  - run:\n      name: x\n      command: \"" + value + "\"\n",
				"scripts/other.sh":     "echo other\n",
			})
			b, err := Pack(dir, nil)
			switch {
			case wantErr == "" && err != nil:
				t.Fatalf("pack: %v", err)
			case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
				t.Fatalf("pack = %v, want an error with %q", err, wantErr)
			case wantErr == "" && !strings.Contains(string(b), "cat \\<<EOF\n"):
				t.Fatalf("packed orb does not hold the escaped script:\n%s", b)
			}
		})
	}
}

// A cache key of the install command must hold the placeholder the pin is
// written into; one that does not would key every release's cache alike.
func TestPinWritesCacheKeys(t *testing.T) {
	install := func(key string) string {
		return "description: x\nparameters:\n  version: {type: string, default: \"\", description: v}\nsteps:\n" +
			"  - restore_cache:\n      keys:\n        - " + key + "\n" +
			"  - run:\n      name: install\n      environment:\n        PMGUARD_ORB_VERSION: \"\"\n        PMGUARD_ORB_CHECKSUMS: \"\"\n      command: echo\n" +
			"  - save_cache:\n      key: " + key + "\n      paths: [x]\n"
	}
	pin := &Pin{Version: "1.2.3", Checksums: []byte(strings.Repeat("a", 64) + "  pmguard_1.2.3_linux_amd64.tar.gz\n")}
	dir := writeOrb(t, map[string]string{"@orb.yml": "version: 2.1\ndescription: x\n", "commands/install.yml": install("k-unpinned-v")})
	b, err := Pack(dir, pin)
	if err != nil {
		t.Fatal(err)
	}
	want := "k" + CacheKeyPin(pin) + "v"
	if strings.Count(string(b), want) != 2 || strings.Contains(string(b), CacheKeyUnpinned) {
		t.Errorf("packed keys are not %q:\n%s", want, b)
	}
	dir = writeOrb(t, map[string]string{"@orb.yml": "version: 2.1\ndescription: x\n", "commands/install.yml": install("k-v")})
	if _, err := Pack(dir, pin); err == nil || !strings.Contains(err.Error(), CacheKeyUnpinned) {
		t.Errorf("pack of a key without the placeholder: %v", err)
	}
}
