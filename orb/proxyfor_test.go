package orb_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// proxy_for picks the proxy wget is given the way curl picks its own, by
// curl's documented no_proxy rules: IPv6 addresses are listed without
// brackets, the URL's brackets and port are not part of its host, an IP
// address matches only itself, and an entry with a port or brackets names
// no host. Each case runs proxy_for itself, as install.sh defines it,
// under every POSIX shell.
func TestProxyForFollowsCurlsNoProxy(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(srcDir(t), "scripts", "install.sh"))
	if err != nil {
		t.Fatal(err)
	}
	fn := regexp.MustCompile(`(?ms)^  proxy_for\(\) \{$.*?^  \}$`).Find(b)
	if fn == nil {
		t.Fatal("install.sh defines no proxy_for")
	}
	const proxy = "http://proxy.invalid:3128"
	cases := []struct {
		url, noProxy string
		direct       bool
	}{
		{"https://[::1]:8443/pmguard", "::1", true},
		{"https://[::1]/pmguard", "::1", true},
		{"https://[2001:db8::1]:8443/x", "localhost, 2001:DB8::1", true},
		{"https://user@[2001:db8::1]/x?a=b", "2001:db8::1", true},
		{"https://[::1]:8443/pmguard", "[::1]", false},
		{"https://[2001:db8::1]:8443/x", "[2001:db8::1]:8443", false},
		{"https://[2001:db8::1]:8443/x", "db8::1", false},
		{"https://[::1]:8443/pmguard", "1", false},
		{"https://10.0.0.1/pmguard", "0.0.1", false},
		{"https://10.0.0.1:8443/pmguard", "10.0.0.1", true},
		{"https://Releases.Example.com./x", ".example.com", true},
		{"https://releases.example.com/x", "example.com.", true},
		{"https://notexample.com/x", "example.com", false},
		{"https://example.com:443/x", "example.com:443", false},
		{"https://example.com/x", "*", true},
		{"https://example.com/x", "localhost,*", false},
	}
	for _, sh := range posixShells(t) {
		for _, c := range cases {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			cmd := exec.CommandContext(ctx, sh.argv[0], append(sh.argv[1:], "-c", string(fn)+"\nproxy_for \"$1\"", "sh", c.url)...)
			cmd.Env = []string{"HTTPS_PROXY=" + proxy, "NO_PROXY=" + c.noProxy}
			if sh.path != "" {
				cmd.Env = append(cmd.Env, "PATH="+sh.path)
			} else {
				cmd.Env = append(cmd.Env, "PATH="+os.Getenv("PATH"))
			}
			out, err := cmd.CombinedOutput()
			cancel()
			if err != nil {
				t.Fatalf("%s: %s with NO_PROXY=%q: %v\n%s", sh.name, c.url, c.noProxy, err, out)
			}
			want := proxy
			if c.direct {
				want = ""
			}
			if string(out) != want {
				t.Errorf("%s: %s with NO_PROXY=%q: proxy %q, want %q", sh.name, c.url, c.noProxy, out, want)
			}
		}
	}
}
