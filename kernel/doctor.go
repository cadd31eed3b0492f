package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/gonomaly/gonomaly/kernel/jupyter"
	"github.com/gonomaly/gonomaly/methods/compute"
)

// doctor prints every check and what to fix; it fails when something needs fixing.
func doctor(ctx context.Context, root string) error {
	checks := jupyter.Diagnose(ctx, root)
	c, err := compute.InUse()
	switch {
	case err != nil:
		checks = append(checks, jupyter.Check{Name: "compute", Status: err.Error(), Fix: "unset or correct $" + compute.EnvVar})
	case c.Fallback:
		checks = append(checks, jupyter.Check{Name: "compute", OK: true,
			Status: c.Description + " — no PJRT plugin found; for XLA (and GPUs) install one (PJRT_PLUGIN_LIBRARY_PATH) or set " + compute.EnvVar + "=xla with network access"})
	default:
		checks = append(checks, jupyter.Check{Name: "compute", OK: true, Status: c.Description + " [" + c.Config + "]"})
	}
	var fixes []string
	for _, ch := range checks {
		mark := "ok  "
		if !ch.OK {
			mark = "FIX "
			fixes = append(fixes, fmt.Sprintf("%s: %s", ch.Name, ch.Fix))
		}
		fmt.Printf("%s %-12s %s\n", mark, ch.Name, ch.Status)
	}
	if len(fixes) > 0 {
		fmt.Println("\nto fix:")
		for _, f := range fixes {
			fmt.Println("  " + strings.ReplaceAll(f, "\n", "\n  "))
		}
		return fmt.Errorf("%d check(s) need fixing", len(fixes))
	}
	fmt.Println("\nall good: go run ./kernel exec (headless) or go run ./kernel notebook (browser)")
	return nil
}
