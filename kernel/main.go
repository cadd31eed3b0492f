// Command kernel sets up, launches and runs gonomaly's notebooks on the GoNB Jupyter kernel.
//
//	go run ./kernel setup                  install Jupyter, GoNB and the "gonomaly" kernel spec (idempotent)
//	go run ./kernel notebook [-port N]     set up if needed, then open Jupyter on notebooks/ (loopback only)
//	go run ./kernel exec [-quick] [nb...]  execute notebooks headlessly into out/notebooks (.ipynb and .html)
//	go run ./kernel doctor                 report Go, Jupyter, GoNB, kernel spec, compute backend, and fixes
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: go run ./kernel <command> [flags]

commands:
  setup     install what is missing: Jupyter (apt-get as root), GoNB ` + "%s" + ` and goimports, the %q kernel spec
  notebook  set up if needed, then start Jupyter on notebooks/ and print its URL (loopback only)
  exec      execute notebooks headlessly (default: every notebooks/*.ipynb), saving executed copies and HTML
  doctor    report Go, Jupyter, GoNB, the kernel spec and the compute backend, and what to fix

Run "go run ./kernel <command> -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	flag.Usage = func() { fmt.Fprintf(os.Stderr, usage, gonbVersion(), kernelName()) }
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	cmds := map[string]func(context.Context, []string) error{
		"setup":    runSetup,
		"notebook": runNotebook,
		"exec":     runExec,
		"doctor":   runDoctor,
	}
	run, ok := cmds[flag.Arg(0)]
	if !ok {
		fmt.Fprintf(os.Stderr, "kernel: unknown command %q\n\n", flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}
	if err := run(ctx, flag.Args()[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "kernel %s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
}
