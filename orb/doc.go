// Package orb holds the tests of the pmguard orb whose source is in src/:
// they pack it, validate the packed orb and every example against CircleCI's
// config schema, shellcheck its scripts, and run its commands' steps in bash
// as CircleCI would, against a release server and endpoints on loopback.
package orb
