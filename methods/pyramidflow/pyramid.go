package pyramidflow

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods/nn"
)

// binomial is the 5-tap binomial filter (1 4 6 4 1)/16; its outer product is the 5 x 5 Gaussian-like
// kernel of the Laplacian pyramid (Burt and Adelson 1983; the authors' LaplacianMaxPyramid).
var binomial = [5]float32{1.0 / 16, 4.0 / 16, 6.0 / 16, 4.0 / 16, 1.0 / 16}

// blur filters an HWC map with the 5 x 5 binomial kernel, zero padded (separable: rows, then columns).
func blur(m datasets.Image) datasets.Image {
	tmp := datasets.NewImage(m.H, m.W, m.C)
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			o := tmp.Pix[(y*m.W+x)*m.C : (y*m.W+x+1)*m.C]
			for k, wt := range binomial {
				xx := x + k - 2
				if xx < 0 || xx >= m.W {
					continue
				}
				in := m.Pix[(y*m.W+xx)*m.C : (y*m.W+xx+1)*m.C]
				for c := range o {
					o[c] += wt * in[c]
				}
			}
		}
	}
	out := datasets.NewImage(m.H, m.W, m.C)
	for y := 0; y < m.H; y++ {
		for k, wt := range binomial {
			yy := y + k - 2
			if yy < 0 || yy >= m.H {
				continue
			}
			o := out.Pix[y*m.W*m.C : (y+1)*m.W*m.C]
			in := tmp.Pix[yy*m.W*m.C : (yy+1)*m.W*m.C]
			for i := range o {
				o[i] += wt * in[i]
			}
		}
	}
	return out
}

// down is the pyramid's reduce step: blur, then 2 x 2 max pooling (the authors' code pools with the
// maximum instead of subsampling).
func down(m datasets.Image) datasets.Image {
	b := blur(m)
	out := datasets.NewImage(m.H/2, m.W/2, m.C)
	for y := 0; y < out.H; y++ {
		for x := 0; x < out.W; x++ {
			o := out.Pix[(y*out.W+x)*m.C : (y*out.W+x+1)*m.C]
			for c := range o {
				v := b.Pix[((2*y)*m.W+2*x)*m.C+c]
				v = max(v, b.Pix[((2*y)*m.W+2*x+1)*m.C+c])
				v = max(v, b.Pix[((2*y+1)*m.W+2*x)*m.C+c])
				v = max(v, b.Pix[((2*y+1)*m.W+2*x+1)*m.C+c])
				o[c] = v
			}
		}
	}
	return out
}

// up is the pyramid's expand step: nearest-neighbour upsampling by 2, then blur.
func up(m datasets.Image) datasets.Image {
	out := datasets.NewImage(2*m.H, 2*m.W, m.C)
	for y := 0; y < out.H; y++ {
		for x := 0; x < out.W; x++ {
			copy(out.Pix[(y*out.W+x)*m.C:(y*out.W+x+1)*m.C], m.Pix[((y/2)*m.W+x/2)*m.C:((y/2)*m.W+x/2+1)*m.C])
		}
	}
	return blur(out)
}

// BuildPyramid decomposes an HWC map into a Laplacian pyramid of the given number of levels, finest
// first: level k < levels-1 is G_k - up(G_{k+1}) with G_0 = m and G_{k+1} = down(G_k); the last level is
// the coarsest G. It is exactly invertible by ComposePyramid whatever down does (paper Sec. 3.2: the
// invertible multi-scale decomposition in front of the flow). H and W must be divisible by 2^(levels-1).
func BuildPyramid(m datasets.Image, levels int) ([]datasets.Image, error) {
	if levels < 1 || m.H%(1<<(levels-1)) != 0 || m.W%(1<<(levels-1)) != 0 {
		return nil, fmt.Errorf("pyramidflow: a %dx%d (W x H) map does not halve %d times", m.W, m.H, levels-1)
	}
	gauss := []datasets.Image{m}
	for k := 1; k < levels; k++ {
		gauss = append(gauss, down(gauss[k-1]))
	}
	out := make([]datasets.Image, levels)
	for k := 0; k < levels-1; k++ {
		u := up(gauss[k+1])
		d := datasets.NewImage(m.H>>k, m.W>>k, m.C)
		for i := range d.Pix {
			d.Pix[i] = gauss[k].Pix[i] - u.Pix[i]
		}
		out[k] = d
	}
	out[levels-1] = gauss[levels-1]
	return out, nil
}

// ComposePyramid inverts BuildPyramid: R = L_last, then R = up(R) + L_k down to level 0.
func ComposePyramid(levels []datasets.Image) datasets.Image {
	r := levels[len(levels)-1]
	for k := len(levels) - 2; k >= 0; k-- {
		u := up(r)
		for i := range u.Pix {
			u.Pix[i] += levels[k].Pix[i]
		}
		r = u
	}
	return r
}

// upMatrix returns the [n, 2n] matrix M with (x·M)[i] = blur(nearest-up(x))[i] along one axis of n
// samples (the transposed 1-D expand step), row-major.
func upMatrix(n int) []float32 {
	m := make([]float32, n*2*n)
	for i := 0; i < 2*n; i++ { // output sample
		for k, wt := range binomial {
			j := i + k - 2 // upsampled sample blurred into i
			if j < 0 || j >= 2*n {
				continue
			}
			m[(j/2)*2*n+i] += wt
		}
	}
	return m
}

// alongAxis multiplies axis (1 or 2) of x [N, H, W, C] by the [n, m] matrix mat, giving size m there.
func alongAxis(x *graph.Node, axis int, mat []float32, n, m int) *graph.Node {
	dims := x.Shape().Dimensions
	mt := graph.Const(x.Graph(), tensors.FromFlatDataAndDimensions(mat, n, m))
	if x.DType() != mt.DType() {
		mt = graph.ConvertDType(mt, x.DType())
	}
	// Move axis last, multiply, move it back.
	perm := []int{0, 1, 2, 3}
	perm[axis], perm[3] = 3, axis
	t := graph.TransposeAllDims(x, perm...)
	td := t.Shape().Dimensions
	y := nn.MatMul(graph.Reshape(t, td[0]*td[1]*td[2], n), mt)
	y = graph.Reshape(y, td[0], td[1], td[2], m)
	out := graph.TransposeAllDims(y, perm...)
	if got := out.Shape().Dimensions; got[axis] != m || got[0] != dims[0] {
		panic(fmt.Sprintf("pyramidflow: alongAxis produced %v", got))
	}
	return out
}

// upGraph is the expand step in a graph: x [N, h, w, C] -> [N, 2h, 2w, C].
func upGraph(x *graph.Node) *graph.Node {
	d := x.Shape().Dimensions
	x = alongAxis(x, 1, upMatrix(d[1]), d[1], 2*d[1])
	return alongAxis(x, 2, upMatrix(d[2]), d[2], 2*d[2])
}

// composeGraph is ComposePyramid in a graph, on levels [N, h_k, w_k, C] (finest first); it is linear,
// so gradients flow through it into every level (the loss and the anomaly map compose differences).
func composeGraph(levels []*graph.Node) *graph.Node {
	r := levels[len(levels)-1]
	for k := len(levels) - 2; k >= 0; k-- {
		r = graph.Add(upGraph(r), levels[k])
	}
	return r
}
