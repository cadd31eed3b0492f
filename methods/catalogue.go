package methods

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Family is a family of methods as the survey groups them.
type Family string

// The survey's families, in the order notebooks present them.
const (
	MemoryBank      Family = "memory bank"
	TeacherStudent  Family = "teacher-student"
	OneClass        Family = "one-class classification"
	DistributionMap Family = "distribution map"
	Reconstruction  Family = "reconstruction"
)

// Families lists every family in presentation order.
func Families() []Family {
	return []Family{MemoryBank, TeacherStudent, OneClass, DistributionMap, Reconstruction}
}

// The two presets every method offers.
const (
	// PresetPaper follows the paper's recipe (backbone, image size, schedule).
	PresetPaper = "paper"
	// PresetCPU is small enough to fit a category on two CPU cores in minutes.
	PresetCPU = "cpu"
)

// Paper is the bibliographic record of the paper a method implements.
type Paper struct {
	Title   string
	Authors string
	Venue   string
	Year    int
	URL     string
}

// Entry describes one method of the Catalogue and how to build it.
type Entry struct {
	// Name is the catalogue key, lower case, e.g. "patchcore".
	Name string
	// Display is the method's usual spelling, e.g. "PatchCore".
	Display string
	Family  Family
	Paper   Paper
	// Summary is one sentence on what the method believes.
	Summary string
	// Trains is true when Fit runs gradient descent (not only feature extraction).
	Trains bool
	// NeedsPretrained is true when the method's recipe relies on an ImageNet-pretrained backbone.
	NeedsPretrained bool
	// Presets lists the preset names New accepts; always includes PresetPaper and PresetCPU.
	Presets []string
	// New builds an unfitted detector from a preset. Register fills it from Build when it is nil.
	New func(preset string) (Detector, error)
	// Build builds an unfitted detector from a preset with the preset's shared Settings changed by edit
	// (nil: the preset as it is): how tests, benchmarks and notebooks set the image size, the weights,
	// the seeds or the feature batch of any method without knowing its Config. The contract requires it.
	Build func(preset string, edit func(*Settings)) (Detector, error)
	// Configure is Build with a JSON object laid over the preset's whole configuration first: the shared
	// Settings fields and the method's own (epochs, learning rate...), by their JSON names; an unknown
	// name is an error listing the known ones. Configurable makes Build and Configure together; nil when
	// the method offers only Build (Configure then falls back to the shared Settings).
	Configure func(preset string, raw []byte, edit func(*Settings)) (Detector, error)
	// Load rebuilds a fitted detector from a checkpoint directory whose manifest was already checked
	// to belong to this method.
	Load func(dir string, m Manifest) (Detector, error)
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Entry{}
)

// Register adds a method to the Catalogue; method packages call it from init.
// It panics on a duplicate or incomplete entry, which is a programming error.
func Register(e Entry) {
	if e.Name == "" || (e.New == nil && e.Build == nil) || e.Load == nil || e.Family == "" {
		panic(fmt.Sprintf("methods.Register: entry %q needs Name, Family, Build (or New) and Load", e.Name))
	}
	if e.New == nil {
		build := e.Build
		e.New = func(preset string) (Detector, error) { return build(preset, nil) }
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[e.Name]; dup {
		panic(fmt.Sprintf("methods.Register: %q registered twice", e.Name))
	}
	if e.Display == "" {
		e.Display = e.Name
	}
	registry[e.Name] = e
}

// Catalogue returns every registered method, grouped by family (survey order), then by year and name.
// Import github.com/gonomaly/gonomaly/methods/all to register every method of the project.
func Catalogue() []Entry {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]Entry, 0, len(registry))
	for _, e := range registry {
		out = append(out, e)
	}
	order := map[Family]int{}
	for i, f := range Families() {
		order[f] = i
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if order[a.Family] != order[b.Family] {
			return order[a.Family] < order[b.Family]
		}
		if a.Paper.Year != b.Paper.Year {
			return a.Paper.Year < b.Paper.Year
		}
		return a.Name < b.Name
	})
	return out
}

// Lookup finds a method by catalogue name (case-insensitive).
func Lookup(name string) (Entry, error) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	if e, ok := registry[strings.ToLower(name)]; ok {
		return e, nil
	}
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return Entry{}, fmt.Errorf("methods: unknown method %q (registered: %s)", name, strings.Join(names, ", "))
}

// New builds an unfitted detector of the named method with a preset (PresetPaper or PresetCPU).
func New(name, preset string) (Detector, error) {
	e, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(e.Presets, preset) {
		return nil, fmt.Errorf("methods: %s has no preset %q (presets: %s)", e.Name, preset, strings.Join(e.Presets, ", "))
	}
	return e.New(preset)
}

// Build builds an unfitted detector of the named method from a preset, with the preset's shared
// Settings changed by edit (nil: none), e.g. to set the image size or the weights of any method.
func Build(name, preset string, edit func(*Settings)) (Detector, error) {
	e, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(e.Presets, preset) {
		return nil, fmt.Errorf("methods: %s has no preset %q (presets: %s)", e.Name, preset, strings.Join(e.Presets, ", "))
	}
	if e.Build == nil {
		return nil, fmt.Errorf("methods: %s does not register Build (the Settings contract)", e.Name)
	}
	return e.Build(preset, edit)
}

// Configure builds an unfitted detector of the named method from a preset with the JSON object raw laid
// over its whole configuration (see Entry.Configure), then edit applied to the shared Settings. Methods
// registered without Configure accept only the shared Settings fields in raw.
func Configure(name, preset string, raw []byte, edit func(*Settings)) (Detector, error) {
	e, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(e.Presets, preset) {
		return nil, fmt.Errorf("methods: %s has no preset %q (presets: %s)", e.Name, preset, strings.Join(e.Presets, ", "))
	}
	if e.Configure != nil {
		return e.Configure(preset, raw, edit)
	}
	return ConfigureShared(name, preset, raw, edit)
}

// ConfigureShared is Configure with raw restricted to the shared Settings fields, whatever the method:
// for a config laid over many methods at once, where one method's own field would fail the others.
func ConfigureShared(name, preset string, raw []byte, edit func(*Settings)) (Detector, error) {
	var cfgErr error
	d, err := Build(name, preset, func(s *Settings) {
		cfgErr = decodeOver(s, raw)
		if edit != nil {
			edit(s)
		}
	})
	if cfgErr != nil {
		return nil, cfgErr
	}
	return d, err
}

// Load reads a checkpoint directory written by a Detector's Save and rebuilds the detector, whichever
// method wrote it.
func Load(dir string) (Detector, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	e, err := Lookup(m.Method)
	if err != nil {
		return nil, fmt.Errorf("%s: checkpoint of method %q: %w", dir, m.Method, err)
	}
	return e.Load(dir, m)
}

// ErrNotFitted is returned by Predict and Save before Fit or Load.
var ErrNotFitted = errors.New("detector is not fitted: call Fit or Load first")
