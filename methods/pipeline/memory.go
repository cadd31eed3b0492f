package pipeline

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// peakMeter measures a bench cell's peak resident memory in-process: Linux lets a process reset its
// high-water mark (writing 5 to /proc/self/clear_refs) and reports it as VmHWM. Where that is not
// possible the process's lifetime peak (getrusage) is reported and named so.
type peakMeter struct{ reset bool }

// startPeak returns the heap to the OS (so earlier cells' garbage does not count) and resets the
// high-water mark.
func startPeak() peakMeter {
	debug.FreeOSMemory()
	err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	return peakMeter{reset: err == nil}
}

// peak returns the peak resident memory in MiB since startPeak, and what it measures.
func (m peakMeter) peak() (float64, string) {
	if m.reset {
		if kb, ok := vmHWM(); ok {
			return kb / 1024, "peak RSS of the cell"
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		return float64(ru.Maxrss) / 1024, "peak RSS of the process so far"
	}
	return 0, "not measured"
}

func vmHWM() (float64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return v, err == nil
		}
	}
	return 0, false
}
