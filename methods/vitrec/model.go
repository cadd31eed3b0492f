package vitrec

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"

	"github.com/gonomaly/gonomaly/methods/nn"
)

// lnEps is the layer norms' epsilon (timm's ViT: 1e-6).
const lnEps = 1e-6

// patchify cuts x [N, H, W, C] into tokens [N, T, P*P*C], row-major over the patch grid.
func patchify(x *Node, p int) *Node {
	d := x.Shape().Dimensions
	n, h, w, c := d[0], d[1], d[2], d[3]
	y := Reshape(x, n, h/p, p, w/p, p, c)
	y = TransposeAllDims(y, 0, 1, 3, 2, 4, 5)
	return Reshape(y, n, (h/p)*(w/p), p*p*c)
}

// unpatchify is patchify's inverse: [N, T, P*P*C] to [N, H, W, C].
func unpatchify(t *Node, size, p, c int) *Node {
	n, g := t.Shape().Dimensions[0], size/p
	y := Reshape(t, n, g, g, p, p, c)
	y = TransposeAllDims(y, 0, 1, 3, 2, 4, 5)
	return Reshape(y, n, size, size, c)
}

// attention is multi-head self-attention (Vaswani et al., "Attention Is All You Need", NeurIPS 2017) over
// x [N, T, D]: it returns the attended tokens [N, T, D] and the attention weights [N, heads, T, T]
// (each row a softmax, summing to 1).
func attention(ctx *mlctx.Context, x *Node, heads int) (*Node, *Node) {
	d := x.Shape().Dimensions
	n, t, dim := d[0], d[1], d[2]
	hd := dim / heads
	// Separate projections for queries, keys and values (one fused projection would need a slice,
	// whose gradient is a Pad that the pure-Go backends lack).
	proj := func(name string) *Node {
		y := Reshape(nn.Linear(ctx.In(name), x, dim), n, t, heads, hd)
		return Reshape(TransposeAllDims(y, 0, 2, 1, 3), n*heads, t, hd)
	}
	q, k, v := proj("q"), proj("k"), proj("v")
	scores := MulScalar(nn.BatchMatMul(q, TransposeAllDims(k, 0, 2, 1)), 1/math.Sqrt(float64(hd))) // [NH, T, T]
	weights := Softmax(scores, -1)
	out := nn.BatchMatMul(weights, v) // [NH, T, hd]
	out = Reshape(TransposeAllDims(Reshape(out, n, heads, t, hd), 0, 2, 1, 3), n, t, dim)
	return nn.Linear(ctx.In("proj"), out, dim), Reshape(weights, n, heads, t, t)
}

// block is a pre-norm transformer encoder block: x + MSA(LN(x)), then x + MLP(LN(x)) with GELU.
func block(ctx *mlctx.Context, x *Node, heads, mlp int) (*Node, *Node) {
	dim := x.Shape().Dimensions[2]
	a, w := attention(ctx.In("attn"), nn.LayerNorm(ctx.In("norm1"), x, lnEps), heads)
	x = Add(x, a)
	h := nn.GELU(nn.Linear(ctx.In("fc1"), nn.LayerNorm(ctx.In("norm2"), x, lnEps), mlp*dim))
	return Add(x, nn.Linear(ctx.In("fc2"), h, dim)), w
}

// forward predicts every patch of x [N, H, W, C] (values centred, in [-0.5, 0.5]) with the tokens
// where mask [N, T] is 1 replaced by the mask token. It returns the predicted patches [N, T, P*P*C],
// the target patches and each block's attention weights.
func forward(ctx *mlctx.Context, x, mask *Node, cfg Config) (pred, target *Node, attn []*Node) {
	g := x.Graph()
	target = patchify(x, cfg.Patch)
	n, t := target.Shape().Dimensions[0], target.Shape().Dimensions[1]
	dim := cfg.dim()
	tok := nn.Linear(ctx.In("patch_embed"), target, dim) // [N, T, D]
	normal := ctx.WithInitializer(initializers.RandomNormalFn(ctx, 0.02))
	maskTok := normal.VariableWithShape("mask_token", shapes.Make(x.DType(), dim)).ValueGraph(g)
	pos := normal.VariableWithShape("pos_embed", shapes.Make(x.DType(), t, dim)).ValueGraph(g)
	m := BroadcastToDims(Reshape(mask, n, t, 1), n, t, dim)
	tok = Add(Mul(tok, OneMinus(m)), Mul(m, BroadcastToDims(Reshape(maskTok, 1, 1, dim), n, t, dim)))
	tok = Add(tok, BroadcastToDims(Reshape(pos, 1, t, dim), n, t, dim))
	for i := 0; i < cfg.Depth; i++ {
		var w *Node
		tok, w = block(ctx.In(fmt.Sprintf("block%d", i)), tok, cfg.Heads, cfg.MLP)
		attn = append(attn, w)
	}
	tok = nn.LayerNorm(ctx.In("norm"), tok, lnEps)
	pred = nn.Linear(ctx.In("head"), tok, target.Shape().Dimensions[2])
	return pred, target, attn
}

// maskedMSE is the mean squared error over the masked patches' pixels (MAE's loss): the sum over
// tokens of mask * mean over the patch of (pred - target)², divided by the number of masked tokens.
func maskedMSE(pred, target, mask *Node) *Node {
	perToken := ReduceMean(Square(Sub(pred, target)), -1) // [N, T]
	return Div(ReduceAllSum(Mul(perToken, mask)), MaxScalar(ReduceAllSum(mask), 1))
}
