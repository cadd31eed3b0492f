package fastgo

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
)

// errUnsupported marks an operation (or dtype, or attribute combination) this executor has no kernel for.
var errUnsupported = errors.New("not supported by fastgo")

func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUnsupported}, args...)...)
}

var (
	noticeMu sync.Mutex
	noticed  = map[string]bool{}
)

// notice prints once per process why a graph runs on the pure-Go backend instead.
func notice(reason string) {
	noticeMu.Lock()
	defer noticeMu.Unlock()
	if noticed[reason] {
		return
	}
	noticed[reason] = true
	fmt.Fprintf(os.Stderr, "gonomaly fastgo: %s; graphs using it run on GoMLX's pure-Go backend (slower)\n", reason)
}

// Compile implements backends.Builder: our executor when every reachable operation has a kernel,
// otherwise the shadow graph on GoMLX's pure-Go backend.
func (b *Builder) Compile(outputs []backends.Op, shardings []*backends.ShardingSpec) (backends.Executable, error) {
	if len(shardings) != 0 {
		return nil, fmt.Errorf("fastgo: sharding is not supported")
	}
	outs, err := b.ins("Compile", outputs)
	if err != nil {
		return nil, err
	}
	logOps(b, outs)
	exec, lowerErr := newExecutable(b, outs)
	if lowerErr == nil {
		b.compiled = true
		return exec, nil
	}
	if !errors.Is(lowerErr, errUnsupported) {
		return nil, lowerErr
	}
	if b.backend.noFallback {
		return nil, fmt.Errorf("fastgo (nofallback): graph %q: %w", b.name, lowerErr)
	}
	notice(lowerErr.Error())
	b.compiled = true
	return b.sg.Compile(sgOps(outs), nil)
}

// logOps appends "op dtype" lines of a compiled graph to $GONOMALY_FASTGO_OPLOG, for finding which
// operations the project's graphs use.
func logOps(b *Builder, outs []*Node) {
	path := os.Getenv("GONOMALY_FASTGO_OPLOG")
	if path == "" {
		return
	}
	seen := map[string]bool{}
	for _, n := range reachable(b, outs) {
		dt := n.shape.DType.String()
		if len(n.inputs) > 0 {
			dt = n.inputs[0].shape.DType.String() + "->" + dt
		}
		seen[n.op.String()+" "+dt] = true
	}
	lines := make([]string, 0, len(seen))
	for l := range seen {
		lines = append(lines, l)
	}
	sort.Strings(lines)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintln(f, strings.Join(lines, "\n"))
}

// reachable returns the nodes the outputs depend on, in creation (topological) order.
func reachable(b *Builder, outs []*Node) []*Node {
	mark := make([]bool, len(b.nodes))
	var visit func(n *Node)
	visit = func(n *Node) {
		if mark[n.id] {
			return
		}
		mark[n.id] = true
		for _, in := range n.inputs {
			visit(in)
		}
	}
	for _, o := range outs {
		visit(o)
	}
	var nodes []*Node
	for _, n := range b.nodes {
		if mark[n.id] {
			nodes = append(nodes, n)
		}
	}
	return nodes
}
