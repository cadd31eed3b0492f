// Command speedbench measures the compute backends side by side with PyTorch, in one run: it runs the
// project's benchmarks (go test -bench) once per backend (GOMLX_BACKEND=fastgo, go) and PyTorch's
// reference script (../shared/bench/torch_ref.py, 2 threads) right after, and prints one markdown
// table with the figures and the ratio of fastgo to PyTorch. Absolute figures move with the machine
// and its load; the ratios of one run are what to quote.
//
//	go run ./methods/compute/cmd/speedbench [-backends fastgo,go] [-torch PATH] [-rows gemm,conv,...]
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// row is one line of the table: a Go benchmark (package, name, metric) and the torch_ref figure.
type row struct {
	key, what      string
	pkg, bench     string
	metric         string // unit reported by the Go benchmark
	torch, tMetric string // torch_ref line name and unit ("" if PyTorch has no such figure)
	higherIsBetter bool
	torchOnly      string // torch_ref --only filter that runs this figure's block
}

var rows = []row{
	{"gemm", "GEMM 1024³ (GFLOP/s)", "./methods/compute/fastgo", "GEMM1024", "GFLOP/s", "gemm_1024", "GFLOP/s", true, "gemm"},
	{"conv", "3x3 conv 64→64, 64×64, batch 8, forward (GFLOP/s)", "./methods/nn", "Conv2DForward$", "GFLOP/s", "conv3x3_64to64_64x64_b8_forward", "GFLOP/s", true, "conv"},
	{"convtrain", "same conv, training step: forward, backward, Adam (ms)", "./methods/nn", "Conv2DTrainStep", "ms/step", "train_conv3x3_64to64_64x64_b8", "ms/step", false, "train_conv"},
	{"r18", "ResNet-18 to layer3, 224 px (ms/image; Go batch 4, PyTorch batch 8)", "./methods/backbone", "ResNet18Layer3At224", "ms/image", "resnet18_to_layer3_224px_b8", "ms/img", false, "resnet18_to_layer3_224px"},
	{"wrn", "Wide-ResNet-50-2 to layer3, 256 px (ms/image; Go batch 2, PyTorch batch 8)", "./methods/backbone", "WideResNet50Layer3At256", "ms/image", "wide_resnet50_2_to_layer3_256px_b8", "ms/img", false, "wide_resnet50_2_to_layer3_256px"},
	{"r18train", "ResNet-18 to layer3 training step, 96 px, batch 8 (ms)", "./methods/backbone", "ResNet18TrainStepAt96", "ms/step", "train_resnet18_to_layer3_96px_b8", "ms/step", false, "train_resnet18"},
	{"rdtrain", "Reverse Distillation CPU preset, training step of batch 8 (ms)", "./methods/rd", "TrainStepRDCPUPreset", "ms/step", "", "", false, ""},
}

func main() {
	backendsFlag := flag.String("backends", "fastgo,go", "comma-separated GOMLX_BACKEND values to measure")
	torchPath := flag.String("torch", "../shared/bench/torch_ref.py", "PyTorch reference script (skipped if missing)")
	only := flag.String("rows", "", "comma-separated row keys to run (default all): "+keys())
	benchtime := flag.String("benchtime", "2s", "go test -benchtime (time-based, so fast figures average many runs)")
	flag.Parse()
	selected := rows
	if *only != "" {
		selected = nil
		for _, k := range strings.Split(*only, ",") {
			found := false
			for _, r := range rows {
				if r.key == k {
					selected, found = append(selected, r), true
				}
			}
			if !found {
				fmt.Fprintf(os.Stderr, "speedbench: unknown row %q (known: %s)\n", k, keys())
				os.Exit(2)
			}
		}
	}
	backends := strings.Split(*backendsFlag, ",")
	results := map[string]map[string]float64{} // backend -> row key -> value
	for _, be := range backends {
		results[be] = map[string]float64{}
		byPkg := map[string][]row{}
		var pkgs []string
		for _, r := range selected {
			if byPkg[r.pkg] == nil {
				pkgs = append(pkgs, r.pkg)
			}
			byPkg[r.pkg] = append(byPkg[r.pkg], r)
		}
		for _, pkg := range pkgs {
			var names []string
			for _, r := range byPkg[pkg] {
				names = append(names, r.bench)
			}
			start := time.Now()
			fmt.Fprintf(os.Stderr, "speedbench: %s on %s ...", pkg, be)
			out, err := goBench(be, pkg, strings.Join(names, "|"), *benchtime)
			fmt.Fprintf(os.Stderr, " %.0f s\n", time.Since(start).Seconds())
			if err != nil {
				fmt.Fprintf(os.Stderr, "speedbench: %s on %s: %v\n%s\n", pkg, be, err, out)
				continue
			}
			for _, r := range byPkg[pkg] {
				if v, ok := benchValue(out, r.bench, r.metric); ok {
					results[be][r.key] = v
				}
			}
		}
	}
	torch := map[string]float64{}
	if _, err := os.Stat(*torchPath); err == nil {
		fmt.Fprintln(os.Stderr, "speedbench: PyTorch reference ...")
		torch = torchRef(*torchPath, selected)
	} else {
		fmt.Fprintf(os.Stderr, "speedbench: %s not found: no PyTorch column\n", *torchPath)
	}
	printTable(selected, backends, results, torch)
}

func keys() string {
	var k []string
	for _, r := range rows {
		k = append(k, r.key)
	}
	return strings.Join(k, ",")
}

func goBench(backend, pkg, pattern, benchtime string) (string, error) {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", pattern, "-benchtime", benchtime, "-timeout", "60m", pkg)
	cmd.Env = append(os.Environ(), "GOMLX_BACKEND="+backend)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// benchValue finds "BenchmarkNAME-P  N  v1 unit1  v2 unit2 ..." and returns the value with unit metric.
func benchValue(out, bench, metric string) (float64, bool) {
	re := regexp.MustCompile(`^Benchmark` + strings.TrimSuffix(bench, "$") + `(-\d+)?\s`)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if !re.MatchString(line) {
			continue
		}
		f := strings.Fields(line)
		for i := 2; i+1 < len(f); i += 2 {
			if f[i+1] == metric {
				v, err := strconv.ParseFloat(f[i], 64)
				return v, err == nil
			}
		}
	}
	return 0, false
}

// openBLASDir holds Debian's OpenBLAS build of libblas.so.3.
const openBLASDir = "/usr/lib/x86_64-linux-gnu/openblas-pthread"

func torchRef(path string, selected []row) map[string]float64 {
	env := []string{}
	for _, e := range os.Environ() { // OPENBLAS_* slow a current PyTorch down; unset them here only
		if !strings.HasPrefix(e, "OPENBLAS_CORETYPE=") && !strings.HasPrefix(e, "OPENBLAS_L2_SIZE=") {
			env = append(env, e)
		}
	}
	// Debian's python3-torch runs its matrix products on whatever libblas.so.3 the alternatives
	// system points at, which may be the unoptimised reference BLAS (3 GFLOP/s here); use OpenBLAS
	// when it is installed (apt-get install libopenblas0-pthread), as a PyTorch user would.
	if _, err := os.Stat(openBLASDir); err == nil {
		env = append(env, "LD_LIBRARY_PATH="+openBLASDir)
	} else {
		fmt.Fprintf(os.Stderr, "speedbench: %s missing: PyTorch may run on the reference BLAS (apt-get install libopenblas0-pthread)\n", openBLASDir)
	}
	var buf bytes.Buffer
	ran := map[string]bool{}
	for _, r := range selected {
		if r.torchOnly == "" || ran[r.torchOnly] {
			continue
		}
		ran[r.torchOnly] = true
		cmd := exec.Command("/usr/bin/python3", path, "--threads", "2", "--only", r.torchOnly)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = &buf, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "speedbench: PyTorch reference (%s): %v\n", r.torchOnly, err)
		}
	}
	got := map[string]float64{}
	for _, line := range strings.Split(buf.String(), "\n") {
		f := strings.Fields(line)
		for _, r := range selected {
			if r.torch == "" || len(f) < 3 || f[0] != r.torch {
				continue
			}
			for i := 1; i+1 < len(f); i++ {
				if f[i+1] == r.tMetric {
					if v, err := strconv.ParseFloat(f[i], 64); err == nil {
						got[r.key] = v
					}
				}
			}
		}
	}
	return got
}

func printTable(selected []row, backends []string, res map[string]map[string]float64, torch map[string]float64) {
	host, _ := os.Hostname()
	fmt.Printf("\nMeasured %s on %s (%s), load %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), host, cpuModel(), loadAvg())
	fmt.Printf("| what | PyTorch |")
	for _, b := range backends {
		fmt.Printf(" %s |", b)
	}
	fmt.Printf(" fastgo vs PyTorch |\n| --- | --- |")
	for range backends {
		fmt.Printf(" --- |")
	}
	fmt.Println(" --- |")
	for _, r := range selected {
		fmt.Printf("| %s | %s |", r.what, num(torch, r.key))
		for _, b := range backends {
			fmt.Printf(" %s |", num(res[b], r.key))
		}
		ratio := "—"
		if t, ok := torch[r.key]; ok {
			if f, ok := res["fastgo"][r.key]; ok && t > 0 && f > 0 {
				if r.higherIsBetter {
					ratio = fmt.Sprintf("%.0f%% of PyTorch", 100*f/t)
				} else {
					ratio = fmt.Sprintf("%.2fx PyTorch's time", f/t)
				}
			}
		}
		fmt.Printf(" %s |\n", ratio)
	}
}

func num(m map[string]float64, k string) string {
	if v, ok := m[k]; ok {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return "—"
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			return strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
		}
	}
	return "unknown CPU"
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
