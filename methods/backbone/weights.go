package backbone

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gonomaly/gonomaly/methods/safetensors"
)

// param is one tensor of the torchvision state dict.
type param struct {
	name  string
	shape []int // torch layout: conv weights OIHW, batch-norm vectors [C]
	conv  bool
}

// parameters lists the state-dict entries of the architecture (without fc.* and num_batches_tracked),
// with every channel count divided by div, in torchvision's order.
func (a arch) parameters(div int) []param {
	var ps []param
	conv := func(name string, out, in, k int) {
		ps = append(ps, param{name: name + ".weight", shape: []int{out, in, k, k}, conv: true})
	}
	bn := func(name string, c int) {
		for _, s := range []string{".weight", ".bias", ".running_mean", ".running_var"} {
			ps = append(ps, param{name: name + s, shape: []int{c}})
		}
	}
	base := 64 / div
	conv("conv1", base, 3, 7)
	bn("bn1", base)
	inplanes := base
	for li := range 4 {
		planes := base << li
		for bi := range a.blocks[li] {
			p := fmt.Sprintf("layer%d.%d", li+1, bi)
			stride := 1
			if li > 0 && bi == 0 {
				stride = 2
			}
			var out int
			if a.bottleneck {
				width := planes * a.widthFactor
				out = planes * 4
				conv(p+".conv1", width, inplanes, 1)
				bn(p+".bn1", width)
				conv(p+".conv2", width, width, 3)
				bn(p+".bn2", width)
				conv(p+".conv3", out, width, 1)
				bn(p+".bn3", out)
			} else {
				out = planes
				conv(p+".conv1", planes, inplanes, 3)
				bn(p+".bn1", planes)
				conv(p+".conv2", planes, planes, 3)
				bn(p+".bn2", planes)
			}
			if stride != 1 || inplanes != out {
				conv(p+".downsample.0", out, inplanes, 1)
				bn(p+".downsample.1", out)
			}
			inplanes = out
		}
	}
	return ps
}

// ignoredTensor reports whether a checkpoint entry is not part of the feature extractor.
func ignoredTensor(name string) bool {
	return strings.HasPrefix(name, "fc.") || strings.HasSuffix(name, ".num_batches_tracked")
}

// hubIDPattern matches Hugging Face repository ids such as "timm/resnet18.tv_in1k".
var hubIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// loadWeights fills b.weights as opts.Weights says (see Options.Weights).
func (b *Backbone) loadWeights(opts Options) error {
	w := strings.TrimSpace(opts.Weights)
	if w == "" {
		if b.div != 1 {
			w = "random"
		} else {
			w = b.spec.hubID
		}
	}
	switch {
	case strings.EqualFold(w, "random"):
		b.initSeeded(opts.Seed)
		return nil
	case strings.HasSuffix(w, ".safetensors") || isFile(w) || !hubIDPattern.MatchString(w):
		return b.loadFile(w)
	}
	// A hub id: use the cache, or download once.
	path, err := hubCachePath(opts.CacheDir, w)
	if err == nil && !isFile(path) {
		err = downloadHub(w, path)
	}
	if err != nil {
		b.initSeeded(opts.Seed)
		fmt.Fprintf(os.Stderr, "gonomaly: backbone %s: no pretrained weights (%v); using seeded random weights (seed %d): features are NOT ImageNet-quality\n",
			b.arch, err, opts.Seed)
		return nil
	}
	if err := b.loadFile(path); err != nil {
		return fmt.Errorf("%w (cached download of %s: delete the file to fetch it again)", err, w)
	}
	return nil
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// loadFile reads a torchvision/timm state dict and checks every tensor against the architecture.
func (b *Backbone) loadFile(path string) error {
	ts, _, err := safetensors.ReadFile(path)
	if err != nil {
		return fmt.Errorf("backbone %s: %w", b.arch, err)
	}
	width := ""
	if b.div != 1 {
		width = fmt.Sprintf(" (width/%d)", b.div)
	}
	expected := make(map[string]bool, len(b.params))
	weights := make(map[string]*tensors.Tensor, len(b.params))
	for _, p := range b.params {
		expected[p.name] = true
		t, ok := ts[p.name]
		if !ok {
			return fmt.Errorf("backbone %s%s: %s: missing tensor %q (shape %v)", b.arch, width, path, p.name, p.shape)
		}
		if !equalInts(t.Shape, p.shape) {
			return fmt.Errorf("backbone %s%s: %s: tensor %q has shape %v, want %v", b.arch, width, path, p.name, t.Shape, p.shape)
		}
		for _, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("backbone %s: %s: tensor %q holds NaN or Inf", b.arch, path, p.name)
			}
		}
		weights[p.name] = toGoMLX(p, t.Data)
	}
	for _, name := range slices.Sorted(maps.Keys(ts)) {
		if !expected[name] && !ignoredTensor(name) {
			return fmt.Errorf("backbone %s%s: %s: unexpected tensor %q (a checkpoint of another architecture?)", b.arch, width, path, name)
		}
	}
	b.weights = weights
	b.pretrained = true
	b.source = path
	return nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// toGoMLX turns torch data into a GoMLX tensor, transposing conv weights from OIHW to HWIO.
func toGoMLX(p param, data []float32) *tensors.Tensor {
	if !p.conv {
		return tensors.FromFlatDataAndDimensions(append([]float32(nil), data...), p.shape...)
	}
	o, i, kh, kw := p.shape[0], p.shape[1], p.shape[2], p.shape[3]
	out := make([]float32, len(data))
	for oo := range o {
		for ii := range i {
			for y := range kh {
				for x := range kw {
					out[((y*kw+x)*i+ii)*o+oo] = data[((oo*i+ii)*kh+y)*kw+x]
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(out, kh, kw, i, o)
}

// initSeeded fills the weights deterministically from seed as torchvision initialises a ResNet:
// convolutions He-normal with fan_out (He et al., "Delving Deep into Rectifiers", ICCV 2015, eq. 10),
// batch norm as the identity (weight 1, bias 0, mean 0, variance 1). Each tensor draws from its own
// stream keyed by its name, so one tensor's values do not depend on the others.
func (b *Backbone) initSeeded(seed uint64) {
	b.weights = make(map[string]*tensors.Tensor, len(b.params))
	for _, p := range b.params {
		n := 1
		for _, d := range p.shape {
			n *= d
		}
		data := make([]float32, n)
		switch {
		case p.conv:
			h := fnv.New64a()
			h.Write([]byte(p.name))
			rng := rand.New(rand.NewPCG(seed, h.Sum64()))
			std := math.Sqrt(2 / float64(p.shape[0]*p.shape[2]*p.shape[3]))
			for i := range data {
				data[i] = float32(rng.NormFloat64() * std)
			}
		case strings.HasSuffix(p.name, ".weight"), strings.HasSuffix(p.name, ".running_var"):
			for i := range data {
				data[i] = 1
			}
		}
		b.weights[p.name] = toGoMLX(p, data)
	}
	b.pretrained = false
	b.source = fmt.Sprintf("random (seed %d)", seed)
}

// CacheDir returns the directory downloaded weights go to: dir if set, else $GONOMALY_CACHE, else
// os.UserCacheDir()/gonomaly.
func CacheDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if d := os.Getenv("GONOMALY_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory (set $GONOMALY_CACHE): %w", err)
	}
	return filepath.Join(d, "gonomaly"), nil
}

// hubCachePath is where the weights of hub repository id are cached.
func hubCachePath(cacheDir, id string) (string, error) {
	dir, err := CacheDir(cacheDir)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "hub", strings.ReplaceAll(id, "/", "--"), "model.safetensors"), nil
}

// HubURL returns the download address of a hub repository's model.safetensors; $HF_ENDPOINT
// replaces https://huggingface.co (for mirrors), as in the huggingface_hub library.
func HubURL(id string) string {
	endpoint := strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/")
	if endpoint == "" {
		endpoint = "https://huggingface.co"
	}
	return endpoint + "/" + id + "/resolve/main/model.safetensors"
}

// downloadHub fetches id's model.safetensors into path: into a temporary file in the same directory,
// checked to parse, then renamed. Connecting fails fast (5 s) so a closed network costs little;
// $HF_HUB_OFFLINE=1 skips the attempt.
func downloadHub(id, path string) error {
	if v := os.Getenv("HF_HUB_OFFLINE"); v == "1" || strings.EqualFold(v, "true") {
		return errors.New("HF_HUB_OFFLINE is set and " + path + " is not cached")
	}
	url := HubURL(id)
	if prev, ok := hubFailures.Load(url); ok {
		return prev.(error) // do not retry a failed download in the same process
	}
	err := fetchHub(url, path)
	if err != nil {
		hubFailures.Store(url, err)
	}
	return err
}

// hubFailures remembers failed downloads by URL, so a notebook that builds many backbones offline
// pays the failed connection once.
var hubFailures sync.Map

func fetchHub(url, path string) error {
	client := &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 15 * time.Second,
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		var uerr *neturl.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is already in the message
		}
		return fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gonomaly: downloading %s (%d MB) to %s\n", url, max(resp.ContentLength, 0)>>20, path)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".model.safetensors.tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op after the rename
	_, err = io.Copy(tmp, resp.Body)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	if _, _, err := safetensors.ReadFile(tmpName); err != nil {
		return fmt.Errorf("download %s: not a valid safetensors file: %w", url, err)
	}
	return os.Rename(tmpName, path)
}
