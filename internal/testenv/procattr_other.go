//go:build !linux

package testenv

import "os/exec"

// dieWithParent is a no-op where the kernel offers no parent-death signal;
// t.Cleanup still stops the process when the test ends normally.
func dieWithParent(cmd *exec.Cmd) {}

// runAs is not supported here: PGStandby runs PostgreSQL as the current
// user, which must not be root.
func runAs(cmd *exec.Cmd, uid, gid uint32) {}
