package fastgo

import (
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"
)

// Op profiling: with GONOMALY_FASTGO_PROFILE set the executor times every step by operation and
// input shape; WriteProfile prints the table. When the variable holds a file path (not "1"), the
// table is also rewritten there at most every ten seconds, so any command can be profiled unchanged.
var (
	profileEnv = os.Getenv("GONOMALY_FASTGO_PROFILE")
	profiling  = profileEnv != ""
	profMu     sync.Mutex
	profTime   = map[string]time.Duration{}
	profCount  = map[string]int{}
	profSaved  time.Time
)

// maybeSaveProfile rewrites the profile file if one is configured and ten seconds have passed.
func maybeSaveProfile() {
	if profileEnv == "" || profileEnv == "1" {
		return
	}
	profMu.Lock()
	due := time.Since(profSaved) > 10*time.Second
	if due {
		profSaved = time.Now()
	}
	profMu.Unlock()
	if !due {
		return
	}
	f, err := os.Create(profileEnv)
	if err != nil {
		return
	}
	WriteProfile(f, 60)
	f.Close()
}

func profileStep(n *Node, d time.Duration) {
	key := n.op.String()
	if len(n.inputs) > 0 {
		key += " " + n.inputs[0].shape.String()
	}
	key += " -> " + n.shape.String()
	profMu.Lock()
	profTime[key] += d
	profCount[key]++
	profMu.Unlock()
}

// profileAlloc records the time spent getting an output buffer (counted apart from the step).
func profileAlloc(n *Node, d time.Duration) {
	profMu.Lock()
	profTime["(output buffer) "+n.shape.String()] += d
	profCount["(output buffer) "+n.shape.String()]++
	profMu.Unlock()
}

// WriteProfile writes the top operations by total time recorded so far (GONOMALY_FASTGO_PROFILE=1).
func WriteProfile(w io.Writer, top int) {
	profMu.Lock()
	defer profMu.Unlock()
	keys := make([]string, 0, len(profTime))
	var total time.Duration
	for k, d := range profTime {
		keys = append(keys, k)
		total += d
	}
	sort.Slice(keys, func(i, j int) bool { return profTime[keys[i]] > profTime[keys[j]] })
	fmt.Fprintf(w, "fastgo profile: %v in %d kinds of step\n", total, len(keys))
	for i, k := range keys {
		if i == top {
			break
		}
		fmt.Fprintf(w, "%8.1f ms %5.1f%% %6d× %s\n", profTime[k].Seconds()*1e3, 100*profTime[k].Seconds()/total.Seconds(), profCount[k], k)
	}
}
