// Command orbpack packs orb/src into one orb.yml with a release pinned in it:
//
//	go run ./scripts/orbpack --version 1.2.3 --checksums dist/checksums.txt --out dist/orb.yml
//
// The checksums must list an archive for every release target, so an orb is
// never published that cannot verify the binary on one of its platforms.
// Without --version the orb is packed unpinned (for validation only).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/pmguard/pmguard/orb/pack"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "orbpack: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("orbpack", flag.ContinueOnError)
	src := fs.String("src", "orb/src", "orb source directory")
	version := fs.String("version", "", "release version to pin, e.g. 1.2.3 (a leading v is dropped); empty: pack unpinned")
	checksums := fs.String("checksums", "dist/checksums.txt", "the release's checksums.txt")
	targets := fs.String("targets", "linux/amd64 linux/arm64 darwin/amd64 darwin/arm64", "os/arch pairs the checksums must cover, space-separated")
	out := fs.String("out", "-", "where to write the packed orb; - for stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var pin *pack.Pin
	if *version != "" {
		sums, err := os.ReadFile(*checksums)
		if err != nil {
			return err
		}
		pin = &pack.Pin{Version: strings.TrimPrefix(*version, "v"), Checksums: sums}
		if err := pin.Check(strings.Fields(*targets)); err != nil {
			return fmt.Errorf("%s: %w", *checksums, err)
		}
	}
	packed, err := pack.Pack(*src, pin)
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err = os.Stdout.Write(packed)
		return err
	}
	tmp := *out + ".tmp"
	if err := os.WriteFile(tmp, packed, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, *out)
}
