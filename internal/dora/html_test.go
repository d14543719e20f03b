package dora

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The DORA page loads in headless Chromium (Debian's chromium) offline with
// no console error, and shows the metrics table and the weekly chart. In CI
// a missing chromium fails the test.
func TestHTMLInChromium(t *testing.T) {
	bin := os.Getenv("PMGUARD_CHROMIUM")
	if bin == "" {
		bin = "/usr/bin/chromium"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed (Debian package chromium)")
		}
		t.Skip("chromium is not installed; set CI to make this a failure")
	}
	r := Compute(syntheticInput())
	file := filepath.Join(t.TempDir(), "dora.html")
	page, err := r.HTML(Scope{Project: `gh/acme/<shop>`, Workflow: "deploy", Branch: "main"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+t.TempDir(),
		"--enable-logging=stderr", "--v=0", "--dump-dom", "file://"+file)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	if m := regexp.MustCompile(`(?m)^.*(CONSOLE\(\d+\)|Uncaught|Refused to|net::ERR_).*$`).FindAllString(stderr.String(), -1); len(m) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(m, "\n"))
	}
	dom := stdout.String()
	for _, want := range []string{`id="metrics"`, `id="weekly-chart"`, `id="weeks"`, "Deployment rework rate", "gh/acme/&lt;shop&gt;"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %s", want)
		}
	}
	if got := strings.Count(dom, `class="week"`); got != len(r.Weeks) {
		t.Errorf("chart draws %d weeks, want %d", got, len(r.Weeks))
	}
}
